// Installs infra/reconciler (the functions' ClusterRole, its binding to their group, and the
// admission policy that holds them to their own objects) on any cluster, as `kubectl apply -k`
// would, so that every local run (npm start, the tests, the benchmark) runs the functions under it.
import { KubeConfig, KubernetesObjectApi, loadAllYaml, loadYaml, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIELD_MANAGER } from '../../functions/core/desired.js';
import { clusterEndpoint } from '../../functions/core/cluster-endpoint.js';
import { ApiError, KubeClient } from '../../functions/core/kube-client.js';
import { clusterFiles, repoRoot } from './cluster/layout.js';
import { waitUntil } from './processes.js';

export const reconcilerAccessDir = join(repoRoot, 'infra/reconciler');

/** The objects of infra/reconciler's kustomization (plain resources, no transformers). */
export function reconcilerAccessObjects(): KubernetesObject[] {
  const { resources } = loadYaml(readFileSync(join(reconcilerAccessDir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  return resources.flatMap((file) => loadAllYaml(readFileSync(join(reconcilerAccessDir, file), 'utf8')) as KubernetesObject[]);
}

/**
 * Applies infra/reconciler with the admin's kubeconfig. Given the functions' own kubeconfig, it
 * then waits until the admission policy is in force for them: the API server picks a new policy
 * up a moment after it is created.
 */
export async function installReconcilerAccess(adminKubeconfig: string, reconcilerKubeconfig?: string): Promise<void> {
  const config = new KubeConfig();
  config.loadFromFile(adminKubeconfig);
  const objects = KubernetesObjectApi.makeApiClient(config);
  for (const object of reconcilerAccessObjects()) await objects.patch(object, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  if (!reconcilerKubeconfig) return;
  const client = new KubeClient(clusterEndpoint({ mode: 'kubeconfig', path: reconcilerKubeconfig }), { timeoutMs: 5_000 });
  try {
    await waitUntil('the admission policy to hold the functions', () => probeRefused(client), { timeoutMs: 60_000 });
  } finally {
    client.close();
  }
}

/** A dry-run create of a ConfigMap that is not the operator's: refused (403) once the policy is in force. */
async function probeRefused(client: KubeClient): Promise<boolean> {
  const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'stimulated-peering-policy-probe' } };
  try {
    await client.request('/api/v1/namespaces/default/configmaps', { method: 'POST', query: { dryRun: 'All' }, body });
    return false;
  } catch (error) {
    if (error instanceof ApiError && error.code === 403 && /ValidatingAdmissionPolicy/.test(error.message)) return true;
    throw error;
  }
}

/**
 * The kubeconfig the local functions act with: on the local control plane, the functions' own
 * identity (group stimulated-peering:reconciler); on another cluster (a KUBECONFIG or
 * TEST_KUBECONFIG given), FUNCTIONS_KUBECONFIG, a kubeconfig of a user in that group.
 */
export function functionsKubeconfig(otherCluster: string | undefined): string | undefined {
  return otherCluster ? process.env.FUNCTIONS_KUBECONFIG : clusterFiles.reconcilerKubeconfig;
}
