// Where the local control plane keeps what it writes: one folder per clone (or LOCAL_CLUSTER_DIR)
// holding the state file, the logs, the credentials and the kubeconfig. Every path is named here once.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export const clusterDir = process.env.LOCAL_CLUSTER_DIR ?? join(repoRoot, '.cluster');

const pki = join(clusterDir, 'pki');
const node = join(clusterDir, 'node');

export const clusterFiles = {
  state: join(clusterDir, 'state.json'),
  kubeconfig: join(clusterDir, 'kubeconfig'),
  etcdData: join(clusterDir, 'etcd'),
  logs: join(clusterDir, 'logs'),
  pki,
  /** The cluster's certificate authority (pki.ts): clients trust it, the kubelet verifies the apiserver's client certificate with it. */
  ca: join(pki, 'ca.crt'),
  caKey: join(pki, 'ca.key'),
  apiserverCertificate: join(pki, 'apiserver.crt'),
  apiserverKey: join(pki, 'apiserver.key'),
  /** The apiserver's client certificate towards kubelets (logs, exec, port-forward). */
  apiserverKubeletClientCertificate: join(pki, 'apiserver-kubelet-client.crt'),
  apiserverKubeletClientKey: join(pki, 'apiserver-kubelet-client.key'),
  /** Configuration files of the apiserver's admission plugins (placement.ts). */
  admissionConfig: join(pki, 'admission.yaml'),
  podNodeSelectorConfig: join(pki, 'pod-node-selector.yaml'),
  /** Static bearer tokens: the admin's, used by the other components too. */
  tokens: join(pki, 'tokens.csv'),
  serviceAccountKey: join(pki, 'sa.key'),
  serviceAccountPublicKey: join(pki, 'sa.pub'),
  /** The real node (node.ts): its configuration, the runtime's and kubelet's data, its components' kubeconfigs. */
  node,
} as const;

export const buildScript = join(repoRoot, 'infra/local/cluster/build.sh');
