// Installs the KindCustomHttp CRD on any cluster (the local one or KUBECONFIG's): every entry point
// that needs it (npm start, the benchmarks, the tests) installs it itself.
import { KubeConfig, KubernetesObjectApi, loadAllYaml, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIELD_MANAGER } from '../../functions/core/desired.js';
import { repoRoot } from './cluster/layout.js';
import { waitUntil } from './processes.js';

export const crdPath = join(repoRoot, 'crds/groupsp.measutosh.dev_kindcustomhttps.yaml');

type Crd = KubernetesObject & { status?: { conditions?: Array<{ type: string; status: string }> } };

/** Applies a CRD (the project's by default) with server-side apply, and waits until it is served. */
export async function installCrd(kubeconfig: string, path = crdPath): Promise<void> {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  const objects = KubernetesObjectApi.makeApiClient(config);
  const crd = loadAllYaml(readFileSync(path, 'utf8'))[0] as KubernetesObject;
  await objects.patch(crd, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  const ref = { apiVersion: crd.apiVersion, kind: crd.kind, metadata: { name: crd.metadata!.name! } };
  await waitUntil(`the CRD ${crd.metadata!.name} to be established`, async () => {
    const served = (await objects.read(ref)) as Crd;
    return served.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
  }, { timeoutMs: 60_000 });
}
