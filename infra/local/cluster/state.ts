// The record of a running local control plane: where its binaries are, its ports, the admin's token
// and the process of each component. `down` and the tests read it; only what `up` recorded is stopped.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { clusterFiles } from './layout.js';
import type { NodeHost } from './node-host.js';
import { nodeComponents } from './node.js';

export const controlPlaneComponents = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const;
/** In start order: the control plane, then the real node. */
export const componentNames = [...controlPlaneComponents, ...nodeComponents] as const;
export type Component = (typeof componentNames)[number];

export interface ClusterState {
  binDir: string;
  server: string;
  kubeconfig: string;
  adminToken: string;
  pids: Partial<Record<Component, number>>;
  /** The scheduler's and KWOK's are their health and metrics endpoints. */
  ports: { etcdClient: number; etcdPeer: number; apiserver: number; scheduler: number; kwok: number };
  /** The real node's network namespace, addresses and cgroup, recorded before any is made. */
  node?: NodeHost;
}

export function readState(): ClusterState | undefined {
  if (!existsSync(clusterFiles.state)) return undefined;
  return JSON.parse(readFileSync(clusterFiles.state, 'utf8')) as ClusterState;
}

export function writeState(state: ClusterState): void {
  writeFileSync(clusterFiles.state, JSON.stringify(state, null, 2));
}

export function forgetState(): void {
  rmSync(clusterFiles.state, { force: true });
}
