// The local cluster, as npm start, the benchmarks and the tests use it.
export { buildBinaries, ClusterStartError, down, requireRunning, restartApiserver, runningCluster, up } from './control-plane.js';
export { fakeNodeName } from './components.js';
export { compactEtcd } from './etcd.js';
export { loadImage, loadedContentKey, normalizedReference, type ImageConfig, type ImageSource } from './images.js';
export { kubectl, kubectlOk, type KubectlResult } from './kubectl.js';
export { clusterDir, clusterFiles } from './layout.js';
export { ctr, realNodeName } from './node.js';
export { realNodeNamespace, realNodeTaint } from './placement.js';
export type { ClusterState } from './state.js';
