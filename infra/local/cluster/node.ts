// The real node beside KWOK's fake one: containerd with runc, the kubelet, kube-proxy (iptables)
// and CoreDNS, all inside the node's network namespace and cgroup (node-host.ts). containerd is
// started by `ip netns exec`, which gives it a mount namespace of its own (slave to the host's);
// there it binds the node's folders over the paths the kubelet and the runtime insist on
// (/var/lib/kubelet, /run/containerd, /var/log/pods, /var/log/containers) and answers the kernel
// settings the kubelet would otherwise change on the host. The other components join its
// namespaces with nsenter, so the kubelet's volume mounts are what runc sees.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dumpYaml } from '@kubernetes/client-node';
import { clusterFiles } from './layout.js';
import { serviceCidr, type NodeHost } from './node-host.js';
import type { ClusterState } from './state.js';

export const realNodeName = 'real-node-0';
/** The image of every pod's sandbox, built at start from nodetools/pause (nothing can be pulled). */
export const pauseImage = 'docker.io/stimulated-peering/pause:1';

export const nodeComponents = ['containerd', 'kubelet', 'kube-proxy', 'coredns'] as const;
export type NodeComponent = (typeof nodeComponents)[number];

const dir = clusterFiles.node;
export const nodeFiles = {
  containerdConfig: join(dir, 'containerd.toml'),
  containerdRoot: join(dir, 'containerd'),
  containerdSocket: join(dir, 'containerd.sock'),
  cniConfDir: join(dir, 'cni'),
  cniState: join(dir, 'cni-ipam'),
  kubeletConfig: join(dir, 'kubelet.yaml'),
  kubeProxyConfig: join(dir, 'kube-proxy.yaml'),
  corefile: join(dir, 'Corefile'),
  kubeconfig: (user: string) => join(dir, `${user}.kubeconfig`),
  images: join(dir, 'images'),
  /** Folders bound over host paths inside the node's mount namespace. */
  binds: {
    '/run/containerd': join(dir, 'run-containerd'),
    '/var/lib/kubelet': join(dir, 'kubelet'),
    '/var/log/pods': join(dir, 'pod-logs'),
    '/var/log/containers': join(dir, 'container-logs'),
  },
  sysctls: join(dir, 'sysctl'),
};

/** The node components' identities: static tokens the apiserver reads from its token file. */
const identities = {
  kubelet: { user: `system:node:${realNodeName}`, groups: ['system:nodes'] },
  'kube-proxy': { user: 'system:kube-proxy', groups: [] }, // bound to system:node-proxier by default
  coredns: { user: 'stimulated-peering:coredns', groups: [] }, // bound in placement.ts
} as const;

/**
 * The kernel settings the kubelet insists on (it writes them, host-wide, when they differ). Inside
 * the node's mount namespace a file with the expected value is bound over each, so it finds them
 * as it wants them and the host's are left alone.
 */
const kubeletSysctls: Record<string, string> = {
  'vm/overcommit_memory': '1',
  'vm/panic_on_oom': '0',
  'kernel/panic': '10',
  'kernel/panic_on_oops': '1',
  'kernel/keys/root_maxkeys': '1000000',
  'kernel/keys/root_maxbytes': '25000000',
};

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** Token-file lines for the node's components; writes their kubeconfigs. Before the apiserver starts. */
export function nodeCredentials(state: ClusterState): string {
  mkdirSync(dir, { recursive: true });
  return Object.entries(identities)
    .map(([component, { user, groups }]) => {
      const token = randomBytes(24).toString('hex');
      writeComponentKubeconfig(state, component, token);
      const groupField = groups.length ? `,"${groups.join(',')}"` : '';
      return `${token},${user},${component}-uid${groupField}\n`;
    })
    .join('');
}

function writeComponentKubeconfig(state: ClusterState, component: string, token: string): void {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: { server: state.server, 'certificate-authority': clusterFiles.ca } }],
    users: [{ name: component, user: { token } }],
    contexts: [{ name: 'local', context: { cluster: 'local', user: component } }],
    'current-context': 'local',
  };
  writeFileSync(nodeFiles.kubeconfig(component), dumpYaml(config), { mode: 0o600 });
}

/** Writes every configuration file of the node. */
export function writeNodeConfig(state: ClusterState, host: NodeHost): void {
  for (const path of [nodeFiles.containerdRoot, nodeFiles.cniConfDir, nodeFiles.cniState, nodeFiles.images, nodeFiles.sysctls, ...Object.values(nodeFiles.binds)]) {
    mkdirSync(path, { recursive: true });
  }
  for (const [name, value] of Object.entries(kubeletSysctls)) writeFileSync(join(nodeFiles.sysctls, name.replaceAll('/', '.')), `${value}\n`);
  writeFileSync(nodeFiles.containerdConfig, containerdConfig(state));
  writeFileSync(join(nodeFiles.cniConfDir, '10-bridge.conflist'), JSON.stringify(cniConfig(host), null, 2));
  writeFileSync(nodeFiles.kubeletConfig, dumpYaml(kubeletConfig(host)));
  writeFileSync(nodeFiles.kubeProxyConfig, dumpYaml(kubeProxyConfig(host)));
  writeFileSync(nodeFiles.corefile, corefile(host));
}

// containerd's config version 3 (containerd 2.x), as its docs/cri/config.md lays it out.
function containerdConfig(state: ClusterState): string {
  return `version = 3
root = ${JSON.stringify(nodeFiles.containerdRoot)}
state = "/run/containerd"
# NRI would put its socket in the host's /var/run; this node has no NRI plugins.
disabled_plugins = ["io.containerd.nri.v1.nri"]

[grpc]
  address = ${JSON.stringify(nodeFiles.containerdSocket)}

[plugins.'io.containerd.internal.v1.opt']
  path = ${JSON.stringify(join(nodeFiles.containerdRoot, 'opt'))}

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = '${pauseImage}'

[plugins.'io.containerd.cri.v1.runtime']
  disable_apparmor = true
  # Where processes lack CAP_SYS_RESOURCE (this machine), none may lower its OOM score below its
  # parent's; the kubelet's -998 for sandboxes would fail every pod.
  restrict_oom_score_adj = true
  # Pod network namespaces are mounted under the runtime's state, not the host's /var/run/netns.
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = 'runc'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = ${JSON.stringify(join(state.binDir, 'runc'))}
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = [${JSON.stringify(state.binDir)}]
    conf_dir = ${JSON.stringify(nodeFiles.cniConfDir)}

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
  stream_server_port = '0'
`;
}

function cniConfig(host: NodeHost): object {
  return {
    cniVersion: '1.0.0',
    name: 'stimulated-peering',
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni0',
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: host.podCidr }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: nodeFiles.cniState },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}

function kubeletConfig(host: NodeHost): object {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // This machine (and many CI machines) has cgroup v1 only, which kubelet 1.35+ refuses by default.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: host.cgroup,
    containerRuntimeEndpoint: `unix://${nodeFiles.containerdSocket}`,
    address: host.nodeIp,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: clusterFiles.ca } },
    authorization: { mode: 'Webhook' },
    clusterDomain: 'cluster.local',
    // CoreDNS listens on the node's own address; pods reach it through their bridge's gateway.
    clusterDNS: [host.nodeIp],
    // No host resolv.conf: pods search the cluster's domains only.
    resolvConf: '',
    failSwapOn: false,
    seccompDefault: true,
    registerWithTaints: [{ key: 'node.stimulated-peering.dev/real', value: 'true', effect: 'NoSchedule' }],
    // Imported images cannot be pulled again: never collect them.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '50Mi', 'nodefs.available': '1%', 'nodefs.inodesFree': '1%', 'imagefs.available': '1%' },
    volumePluginDir: join(nodeFiles.binds['/var/lib/kubelet'], 'volume-plugins'),
    maxPods: 110,
  };
}

function kubeProxyConfig(host: NodeHost): object {
  return {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig: nodeFiles.kubeconfig('kube-proxy') },
    mode: 'iptables',
    hostnameOverride: realNodeName,
    clusterCIDR: host.podCidr,
    healthzBindAddress: `${host.nodeIp}:10256`,
    metricsBindAddress: '127.0.0.1:10249',
    // Connection tracking limits are host-wide: leave them as they are.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
  };
}

// Only the cluster's zones: any other name is refused, nothing is forwarded off the machine.
function corefile(host: NodeHost): string {
  return `cluster.local:53 in-addr.arpa:53 {
    errors
    health 127.0.0.1:8080
    ready ${host.nodeIp}:8181
    kubernetes cluster.local in-addr.arpa {
        kubeconfig ${nodeFiles.kubeconfig('coredns')} local
        pods insecure
        ttl 5
    }
    cache 5
}
`;
}

/**
 * `ip netns exec` mounts a sysfs of the node's namespace over /sys, which hides the cgroup
 * hierarchies; these commands mount them again as the host has them (a hierarchy mounted twice is
 * the same hierarchy).
 */
function cgroupMounts(): string[] {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' - '))
    .filter(([, fs]) => /^cgroup2? /.test(fs ?? ''))
    .map(([mount, fs]) => ({ path: mount!.split(' ')[4]!, type: fs!.split(' ')[0]!, options: fs!.split(' ')[2]! }));
  const commands = mounts.some((m) => m.path === '/sys/fs/cgroup') ? [] : ['mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup'];
  for (const { path, type, options } of mounts) commands.push(`mkdir -p ${quote(path)} && mount -t ${type} -o ${quote(options)} ${type} ${quote(path)}`);
  return commands;
}

/** The shell that prepares containerd's mount namespace, then becomes containerd. */
function containerdLauncher(state: ClusterState): string {
  const binds = Object.entries(nodeFiles.binds).map(([target, source]) => `mkdir -p ${quote(target)} && mount --bind ${quote(source)} ${quote(target)}`);
  const sysctls = Object.keys(kubeletSysctls).map((name) => `mount --bind ${quote(join(nodeFiles.sysctls, name.replaceAll('/', '.')))} /proc/sys/${name}`);
  return ['set -e', ...cgroupMounts(), ...binds, ...sysctls, `export PATH=${quote(state.binDir)}:"$PATH"`, 'exec "$0" "$@"'].join('\n');
}

export interface Command {
  binary: string;
  args: string[];
}

/** How each node component starts; all but containerd join containerd's namespaces. */
export function nodeCommand(component: NodeComponent, state: ClusterState, host: NodeHost): Command {
  const bin = (name: string) => join(state.binDir, name);
  if (component === 'containerd') {
    return { binary: 'ip', args: ['netns', 'exec', host.netns, 'sh', '-c', containerdLauncher(state), bin('containerd'), `--config=${nodeFiles.containerdConfig}`] };
  }
  const containerdPid = state.pids.containerd;
  if (!containerdPid) throw new Error('containerd is not running');
  const enter = (args: string[]): Command => ({
    binary: 'nsenter',
    args: [`--target=${containerdPid}`, '--mount', '--net', '--', 'env', `PATH=${state.binDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, ...args],
  });
  switch (component) {
    case 'kubelet':
      return enter([
        bin('controlplane'),
        'kubelet',
        `--config=${nodeFiles.kubeletConfig}`,
        `--kubeconfig=${nodeFiles.kubeconfig('kubelet')}`,
        `--hostname-override=${realNodeName}`,
        `--node-ip=${host.nodeIp}`,
        `--node-labels=${realNodeLabel.key}=${realNodeLabel.value}`,
      ]);
    case 'kube-proxy':
      return enter([bin('controlplane'), 'kube-proxy', `--config=${nodeFiles.kubeProxyConfig}`]);
    case 'coredns':
      return enter([bin('coredns'), '-conf', nodeFiles.corefile]);
  }
}

/** The label that tells the real node from KWOK's (which has type=kwok). */
export const realNodeLabel = { key: 'type', value: 'real' } as const;

/** `ctr` against the node's containerd, in the namespace the kubelet uses. */
export function ctr(state: ClusterState, args: string[], input?: Buffer): string {
  return execFileSync(join(state.binDir, 'ctr'), ['--address', nodeFiles.containerdSocket, '--namespace', 'k8s.io', ...args], {
    encoding: 'utf8',
    input,
    stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 2 ** 20,
  });
}

export { serviceCidr };
