// The local cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, KWOK and a real
// node (node.ts), each a process of the binaries build.sh builds. `up` starts them on free ports
// and waits until the fake node and the real one are Ready; `down` stops exactly the processes `up`
// recorded and takes the real node's namespace and cgroups away.
import { CoreV1Api, Health, KubernetesObjectApi } from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { clusterEndpoint } from '../../../functions/core/cluster-endpoint.js';
import { KubeClient } from '../../../functions/core/kube-client.js';
import { openWatches } from '../apiserver-metrics.js';
import { freePort, startDetached, stopProcess, waitUntil, type OwnedProcess } from '../processes.js';
import { componentCommand, fakeNode, fakeNodeName } from './components.js';
import { writeCredentials } from './credentials.js';
import { adminKubeConfig, writeKubeconfig } from './kubeconfig.js';
import { buildScript, clusterDir, clusterFiles } from './layout.js';
import { createNodeHost, destroyNodeHost, joinNodeCgroup } from './node-host.js';
import { loadPauseImage } from './images.js';
import { ctr, nodeComponents, nodeCredentials, realNodeName, writeNodeConfig, type NodeComponent } from './node.js';
import { writeCertificates } from './pki.js';
import { corednsRbac, writeAdmissionConfig } from './placement.js';
import { componentNames, forgetState, readState, writeState, type ClusterState, type Component } from './state.js';

export class ClusterStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClusterStartError';
  }
}

/** Builds (or finds in the cache) the control-plane binaries; returns their folder. */
export function buildBinaries(): string {
  const output = execFileSync('bash', [buildScript], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return output.trim().split('\n').pop()!;
}

/** The process `up` recorded for a component, if it still runs a binary of the cluster's bin folder. */
function owned(state: ClusterState, component: Component): OwnedProcess | undefined {
  const pid = state.pids[component];
  if (!pid) return undefined;
  // A stale state file must never make `down` signal someone else's process that got the same pid.
  const running = () => {
    try {
      process.kill(pid, 0);
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(state.binDir);
    } catch {
      return false;
    }
  };
  return { pid, running };
}

const isRunning = (state: ClusterState, component: Component) => owned(state, component)?.running() ?? false;

/** The recorded cluster, if every one of its processes is still running. */
export function runningCluster(): ClusterState | undefined {
  const state = readState();
  return state && componentNames.every((name) => isRunning(state, name)) ? state : undefined;
}

const logPath = (component: Component) => join(clusterFiles.logs, `${component}.log`);

function logTail(component: Component, lines = 30): string {
  const path = logPath(component);
  if (!existsSync(path)) return '(no log)';
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

function start(state: ClusterState, component: Component): void {
  const { binary, args } = componentCommand(component, state);
  state.pids[component] = startDetached(binary, args, logPath(component));
  writeState(state);
}

/** Waits for `ready`, failing early with the component's log tail if it exits. */
function waitFor(state: ClusterState, component: Component, what: string, ready: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  return waitUntil(what, ready, {
    timeoutMs,
    hopeless: () => (isRunning(state, component) ? undefined : `${component} exited`),
    failure: (message) => new ClusterStartError(`${message}; last lines of ${logPath(component)}:\n${logTail(component)}`),
  });
}

/** Starts the apiserver and waits until it is ready. */
async function startApiserver(state: ClusterState, what: string): Promise<void> {
  start(state, 'kube-apiserver');
  const health = new Health(adminKubeConfig(state));
  await waitFor(state, 'kube-apiserver', what, () => health.readyz({ signal: AbortSignal.timeout(5_000) }), 180_000);
}

/** Starts the whole control plane, or returns the one already running. */
export async function up(log: (line: string) => void = () => {}): Promise<ClusterState> {
  const running = runningCluster();
  if (running) {
    // One started before the functions had an identity of their own has no token for it.
    if (!running.reconcilerToken) throw new ClusterStartError('the running control plane predates the functions\' own identity: restart it (npm run cluster:down, then npm run cluster:up)');
    log(`control plane already running at ${running.server}`);
    return running;
  }
  await down();
  const binDir = buildBinaries();

  rmSync(clusterDir, { recursive: true, force: true });
  mkdirSync(clusterFiles.logs, { recursive: true });
  const [etcdClient, etcdPeer, apiserver, scheduler, kwok] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const state: ClusterState = {
    binDir,
    server: '',
    kubeconfig: clusterFiles.kubeconfig,
    adminToken: randomBytes(24).toString('hex'),
    reconcilerToken: randomBytes(24).toString('hex'),
    pids: {},
    ports: { etcdClient, etcdPeer, apiserver, scheduler, kwok },
  };

  try {
    log('creating the real node\'s network namespace');
    // Recorded as soon as it exists, so that `down` removes it whatever fails next.
    writeState(state);
    state.node = createNodeHost();
    state.server = `https://${state.node.hostIp}:${apiserver}`;
    writeState(state);
    writeCertificates(state.node.hostIp);
    writeAdmissionConfig();
    writeCredentials({ admin: state.adminToken, reconciler: state.reconcilerToken }, nodeCredentials(state));
    writeKubeconfig(state);

    log('starting etcd');
    start(state, 'etcd');
    await waitFor(state, 'etcd', 'etcd to serve', async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok);

    log('starting kube-apiserver');
    await startApiserver(state, 'the apiserver to be ready');

    log('starting kube-controller-manager, kube-scheduler and KWOK');
    for (const component of apiserverClients) start(state, component);

    const core = adminKubeConfig(state).makeApiClient(CoreV1Api);
    await waitFor(state, 'kube-apiserver', 'the default namespace', async () => Boolean(await core.readNamespace({ name: 'default' })));
    await core.createNode({ body: fakeNode });
    await waitFor(state, 'kwok', `node ${fakeNodeName} to be Ready`, async () => {
      const node = await core.readNode({ name: fakeNodeName });
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    });
    await waitFor(state, 'kube-controller-manager', 'the default service account', async () =>
      Boolean(await core.readNamespacedServiceAccount({ namespace: 'default', name: 'default' })),
    );
    log('starting the real node: containerd, kubelet, kube-proxy, CoreDNS');
    await startNode(state, core);
    log(`cluster ready at ${state.server}; KUBECONFIG=${state.kubeconfig}`);
    return state;
  } catch (error) {
    await down();
    throw error;
  }
}

/** The running local control plane, or an error saying there is none. */
export function requireRunning(): ClusterState {
  const state = runningCluster();
  if (!state) throw new Error('no local control plane is running');
  return state;
}

/** The components that are clients of the apiserver. */
const apiserverClients = ['kube-controller-manager', 'kube-scheduler', 'kwok'] as const;

/**
 * Stops the apiserver and starts it again on the same port and storage, as a control-plane upgrade
 * does; tests use it to prove that watchers recover. The other components are restarted too, as an
 * upgrade restarts them: left running, their informers back off for up to a minute before they
 * watch again (16 to 67 s measured after a 13 s restart), and until then the cluster reacts late
 * (garbage collection, quotas) and disturbs whatever runs next. It returns once every watch open
 * before the restart is open again.
 */
export async function restartApiserver(downtimeMs = 0): Promise<void> {
  const state = requireRunning();
  const client = new KubeClient(clusterEndpoint({ mode: 'kubeconfig', path: state.kubeconfig }), { timeoutMs: 5_000 });
  const watches = await openWatches(client);
  await stopProcess(owned(state, 'kube-apiserver'));
  await new Promise((r) => setTimeout(r, downtimeMs));
  await startApiserver(state, 'the apiserver to be ready again');
  for (const component of apiserverClients) {
    await stopProcess(owned(state, component));
    start(state, component);
  }
  await waitFor(state, 'kube-apiserver', `the ${watches} watches open before the restart to be open again`, async () => (await openWatches(client)) >= watches);
  client.close();
}

/** Starts a node component, moved into the node's cgroup, and waits until it runs its own binary. */
async function startNodeComponent(state: ClusterState, component: NodeComponent): Promise<void> {
  start(state, component);
  joinNodeCgroup(state.node!, state.pids[component]!);
  // It starts as `ip netns exec` or `nsenter`, which become the component.
  await waitUntil(`${component} to start`, async () => isRunning(state, component), {
    timeoutMs: 10_000,
    intervalMs: 20,
    failure: (message) => new ClusterStartError(`${message}; last lines of ${logPath(component)}:\n${logTail(component)}`),
  });
}

/** The real node, once the control plane serves: Ready, with CoreDNS and kube-proxy serving. */
async function startNode(state: ClusterState, core: CoreV1Api): Promise<void> {
  const host = state.node!;
  writeNodeConfig(state, host);
  const objects = KubernetesObjectApi.makeApiClient(adminKubeConfig(state));
  for (const object of corednsRbac) await objects.create(object);
  await startNodeComponent(state, 'containerd');
  await waitFor(state, 'containerd', 'containerd to serve', async () => Boolean(ctr(state, ['version'])));
  loadPauseImage(state);
  for (const component of ['kubelet', 'kube-proxy', 'coredns'] as const) await startNodeComponent(state, component);
  await waitFor(state, 'kubelet', `node ${realNodeName} to be Ready`, async () => {
    const node = await core.readNode({ name: realNodeName });
    return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  });
  await waitFor(state, 'coredns', 'CoreDNS to be ready', async () => (await fetch(`http://${host.nodeIp}:8181/ready`)).ok);
  await waitFor(state, 'kube-proxy', 'kube-proxy to be healthy', async () => (await fetch(`http://${host.nodeIp}:10256/healthz`)).ok);
}

/** Stops the node's components, kills what they leave (containers, shims), and removes its namespace and cgroups. */
async function stopNode(state: ClusterState): Promise<void> {
  // No grace: the node's processes are all killed next, containers included, so nothing could use it.
  for (const component of [...nodeComponents].reverse()) await stopProcess(owned(state, component), 0);
  if (state.node) await destroyNodeHost(state.node);
}

/** Stops the processes `up` recorded, newest first, and nothing else; then removes the node. */
export async function down(): Promise<void> {
  const state = readState();
  if (!state) return;
  // The control plane stops even when the node's teardown fails; the record stays for another try.
  const nodeStopped = stopNode(state).then(
    () => undefined,
    (error: unknown) => error,
  );
  const nodeError = await nodeStopped;
  const controlPlane = componentNames.filter((name) => !(nodeComponents as readonly string[]).includes(name));
  for (const component of controlPlane.reverse()) await stopProcess(owned(state, component));
  if (nodeError) throw new Error('the real node was not torn down completely', { cause: nodeError });
  forgetState();
}
