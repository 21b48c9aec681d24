// The local control plane, as npm start, the benchmarks and the tests use it.
export { buildBinaries, ClusterStartError, down, requireRunning, restartApiserver, runningCluster, up } from './control-plane.js';
export { compactEtcd } from './etcd.js';
export { kubectl, kubectlOk, type KubectlResult } from './kubectl.js';
export { clusterDir, clusterFiles } from './layout.js';
export type { ClusterState } from './state.js';
