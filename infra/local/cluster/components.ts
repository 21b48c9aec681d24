// What each component of the local control plane runs with: its binary and its flags.
import { join } from 'node:path';
import { clusterFiles } from './layout.js';
import { nodeCommand, nodeComponents, type Command, type NodeComponent } from './node.js';
import { admissionPlugins } from './placement.js';
import type { ClusterState, Component } from './state.js';

export type { Command };

export const fakeNodeName = 'kwok-node-0';

/** The node KWOK pretends to run; its pods cost nothing, so it has room for the benchmarks' thousands. */
export const fakeNode = {
  apiVersion: 'v1',
  kind: 'Node',
  metadata: {
    name: fakeNodeName,
    annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
    // type=kwok: the node selector placement.ts gives pods of every namespace but the real node's.
    labels: { 'kubernetes.io/hostname': fakeNodeName, 'kubernetes.io/os': 'linux', type: 'kwok' },
  },
  status: { allocatable: { cpu: '1000', memory: '4Ti', pods: '20000' }, capacity: { cpu: '1000', memory: '4Ti', pods: '20000' } },
};

const controlplane = (state: ClusterState) => join(state.binDir, 'controlplane');

/** The flags every client component shares: the admin's kubeconfig, loopback only, no leader election. */
const clientFlags = (state: ClusterState) => [
  `--kubeconfig=${state.kubeconfig}`,
  `--authentication-kubeconfig=${state.kubeconfig}`,
  `--authorization-kubeconfig=${state.kubeconfig}`,
  '--bind-address=127.0.0.1',
  '--leader-elect=false',
  '--kube-api-qps=200',
  '--kube-api-burst=400',
];

const isNodeComponent = (component: Component): component is NodeComponent => (nodeComponents as readonly string[]).includes(component);

export function componentCommand(component: Component, state: ClusterState): Command {
  if (isNodeComponent(component)) return nodeCommand(component, state, requireNode(state));
  switch (component) {
    case 'etcd':
      return {
        binary: controlplane(state),
        args: [
          'etcd',
          `--data-dir=${clusterFiles.etcdData}`,
          `--listen-client-url=http://127.0.0.1:${state.ports.etcdClient}`,
          `--listen-peer-url=http://127.0.0.1:${state.ports.etcdPeer}`,
        ],
      };
    case 'kube-apiserver':
      return { binary: controlplane(state), args: apiserverArgs(state) };
    case 'kube-controller-manager':
      return {
        binary: controlplane(state),
        args: [
          'kube-controller-manager',
          ...clientFlags(state),
          '--secure-port=0',
          '--use-service-account-credentials=false',
          `--service-account-private-key-file=${clusterFiles.serviceAccountKey}`,
          `--root-ca-file=${clusterFiles.ca}`,
          // Everything a real cluster runs, less what needs a cloud or real nodes.
          '--controllers=*,-cloud-node-lifecycle-controller,-node-ipam-controller,-service-lb-controller,-node-route-controller,-persistentvolume-attach-detach-controller',
          '--concurrent-deployment-syncs=10',
          '--concurrent-replicaset-syncs=10',
          '--concurrent-gc-syncs=20',
        ],
      };
    case 'kube-scheduler':
      return { binary: controlplane(state), args: ['kube-scheduler', ...clientFlags(state), `--secure-port=${state.ports.scheduler}`] };
    case 'kwok':
      return {
        binary: join(state.binDir, 'kwok'),
        args: [
          `--kubeconfig=${state.kubeconfig}`,
          `--config=${join(state.binDir, 'kwok-stages.yaml')}`,
          '--manage-all-nodes=false',
          '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
          '--cidr=10.0.0.1/16',
          '--node-ip=10.0.0.1',
          `--server-address=127.0.0.1:${state.ports.kwok}`,
        ],
      };
  }
}

function requireNode(state: ClusterState) {
  if (!state.node) throw new Error('the cluster state records no node network');
  return state.node;
}

function apiserverArgs(state: ClusterState): string[] {
  // It listens on the host's end of the node's veth pair, which the host reaches as any local
  // address and pods reach through the `kubernetes` Service, whose endpoint it keeps there.
  const address = requireNode(state).hostIp;
  return [
    'kube-apiserver',
    `--etcd-servers=http://127.0.0.1:${state.ports.etcdClient}`,
    `--bind-address=${address}`,
    `--advertise-address=${address}`,
    `--secure-port=${state.ports.apiserver}`,
    `--tls-cert-file=${clusterFiles.apiserverCertificate}`,
    `--tls-private-key-file=${clusterFiles.apiserverKey}`,
    `--kubelet-client-certificate=${clusterFiles.apiserverKubeletClientCertificate}`,
    `--kubelet-client-key=${clusterFiles.apiserverKubeletClientKey}`,
    '--kubelet-preferred-address-types=InternalIP',
    `--token-auth-file=${clusterFiles.tokens}`,
    '--authorization-mode=Node,RBAC',
    `--enable-admission-plugins=${admissionPlugins.join(',')}`,
    `--admission-control-config-file=${clusterFiles.admissionConfig}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${clusterFiles.serviceAccountPublicKey}`,
    `--service-account-signing-key-file=${clusterFiles.serviceAccountKey}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--allow-privileged=true',
    '--profiling=false',
    '--max-requests-inflight=2000',
    '--max-mutating-requests-inflight=1000',
  ];
}
