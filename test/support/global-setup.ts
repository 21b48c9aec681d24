// Integration tests run against a real control plane: the cluster named by TEST_KUBECONFIG when
// set (kind, EKS, ...), otherwise the local one, started here if it is not already running.
import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { buildBinaries, down, runningCluster, up } from '../../infra/local/cluster/index.js';
import { functionsKubeconfig, installReconcilerAccess } from '../../infra/local/reconciler-access.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    /** The functions' identity (group stimulated-peering:reconciler), under infra/reconciler. */
    reconcilerKubeconfig: string;
    kubectl: string;
    /** True when the tests own the local control plane and may restart its apiserver. */
    localCluster: boolean;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | void> {
  const external = process.env.TEST_KUBECONFIG;
  if (external) {
    if (!existsSync(external)) throw new Error(`TEST_KUBECONFIG=${external} does not exist`);
    const reconciler = functionsKubeconfig(external);
    if (!reconciler || !existsSync(reconciler)) {
      throw new Error('with TEST_KUBECONFIG, set FUNCTIONS_KUBECONFIG to a kubeconfig of a user in group stimulated-peering:reconciler: the tests run the functions as that identity');
    }
    await installReconcilerAccess(external, reconciler);
    project.provide('kubeconfig', external);
    project.provide('reconcilerKubeconfig', reconciler);
    project.provide('kubectl', process.env.TEST_KUBECTL ?? `${buildBinaries()}/kubectl`);
    project.provide('localCluster', false);
    return;
  }
  const alreadyRunning = runningCluster() !== undefined;
  const state = await up((line) => console.log(`[cluster] ${line}`));
  const reconciler = functionsKubeconfig(undefined)!;
  // The functions' RBAC and admission policy, which every test of the functions runs under.
  await installReconcilerAccess(state.kubeconfig, reconciler);
  project.provide('kubeconfig', state.kubeconfig);
  project.provide('reconcilerKubeconfig', reconciler);
  project.provide('kubectl', `${state.binDir}/kubectl`);
  project.provide('localCluster', true);
  // A cluster someone started by hand keeps running; one started for the tests stops with them.
  if (!alreadyRunning) return () => down();
}
