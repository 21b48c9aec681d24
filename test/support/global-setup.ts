// Integration tests run against a real control plane: the cluster named by TEST_KUBECONFIG when
// set (kind, EKS, ...), otherwise the local one, started here if it is not already running.
import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { buildBinaries, down, runningCluster, up } from '../../infra/local/cluster/index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    kubectl: string;
    /** True when the tests own the local control plane and may restart its apiserver. */
    localCluster: boolean;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | void> {
  const external = process.env.TEST_KUBECONFIG;
  if (external) {
    if (!existsSync(external)) throw new Error(`TEST_KUBECONFIG=${external} does not exist`);
    project.provide('kubeconfig', external);
    project.provide('kubectl', process.env.TEST_KUBECTL ?? `${buildBinaries()}/kubectl`);
    project.provide('localCluster', false);
    return;
  }
  const alreadyRunning = runningCluster() !== undefined;
  const state = await up((line) => console.log(`[cluster] ${line}`));
  project.provide('kubeconfig', state.kubeconfig);
  project.provide('kubectl', `${state.binDir}/kubectl`);
  project.provide('localCluster', true);
  // A cluster someone started by hand keeps running; one started for the tests stops with them.
  if (!alreadyRunning) return () => down();
}
