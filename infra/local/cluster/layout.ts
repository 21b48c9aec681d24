// Where the local control plane keeps what it writes: one folder per clone (or LOCAL_CLUSTER_DIR)
// holding the state file, the logs, the credentials and the kubeconfig. Every path is named here once.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export const clusterDir = process.env.LOCAL_CLUSTER_DIR ?? join(repoRoot, '.cluster');

const pki = join(clusterDir, 'pki');

export const clusterFiles = {
  state: join(clusterDir, 'state.json'),
  kubeconfig: join(clusterDir, 'kubeconfig'),
  /** The functions' identity (group stimulated-peering:reconciler), not the admin. */
  reconcilerKubeconfig: join(clusterDir, 'reconciler.kubeconfig'),
  etcdData: join(clusterDir, 'etcd'),
  logs: join(clusterDir, 'logs'),
  /** The apiserver's --cert-dir: it writes its own serving certificate there on first start. */
  pki,
  apiserverCertificate: join(pki, 'apiserver.crt'),
  /** Static bearer tokens: the admin's, used by the other components too, and the functions'. */
  tokens: join(pki, 'tokens.csv'),
  serviceAccountKey: join(pki, 'sa.key'),
  serviceAccountPublicKey: join(pki, 'sa.pub'),
} as const;

export const buildScript = join(repoRoot, 'infra/local/cluster/build.sh');
