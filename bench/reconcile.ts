// The reconcile core against the local control plane: API requests and latency per reconcile, on
// the create path (a new CR) and on the unchanged path (nothing to do).
import { childKindInfo, childKinds } from '../functions/core/children.js';
import { clusterEndpoint } from '../functions/core/cluster-endpoint.js';
import { forEachBounded } from '../functions/core/concurrency.js';
import { GROUP, PLURAL, VERSION } from '../functions/core/kindcustomhttp.js';
import { KubeApi } from '../functions/core/kube-api.js';
import { KubeClient } from '../functions/core/kube-client.js';
import { reconcile } from '../functions/core/reconciler.js';
import { apiserverRequests } from '../infra/local/apiserver-metrics.js';
import { deleteNamespaceAndWait, percentile, round, timed } from './stats.js';

const silent = { info: () => {}, warn: () => {} };
const childResources = childKinds.map((kind) => childKindInfo[kind].plural);

/** Writes to the children the apiserver served: what a reconcile that changes nothing must not send. */
async function childWrites(client: KubeClient): Promise<number> {
  let total = 0;
  for (const resource of childResources) for (const verb of ['APPLY', 'PATCH', 'PUT', 'POST']) total += await apiserverRequests(client, { resource, verb });
  return total;
}

export async function benchReconcile(kubeconfig: string, count = 200): Promise<Record<string, number>> {
  const client = new KubeClient(clusterEndpoint({ mode: 'kubeconfig', path: kubeconfig }), { timeoutMs: 30_000 });
  const api = new KubeApi(client);
  const namespace = `bench-reconcile-${Date.now().toString(36)}`;
  await client.request('/api/v1/namespaces', { method: 'POST', body: { metadata: { name: namespace } } });
  const names = Array.from({ length: count }, (_, i) => `cr-${i}`);
  await forEachBounded(names, 16, async (name) => {
    const body = { apiVersion: `${GROUP}/${VERSION}`, kind: 'KindCustomHttp', metadata: { name }, spec: { port: 80, replicaCount: 2, configMapData: { hostports: 'localhost,8080\n' } } };
    await client.request(`/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`, { method: 'POST', body });
  });

  // One at a time, so that latencies and request counts belong to one reconcile each.
  const measure = async () => {
    const latencies: number[] = [];
    const before = client.requestCount;
    for (const name of names) latencies.push((await timed(() => reconcile({ api, log: silent }, { namespace, name }))).ms);
    return { latencies, requests: (client.requestCount - before) / names.length };
  };
  const created = await measure();
  // Let the pods come up and the statuses settle before measuring the unchanged path.
  await waitForReady(api, namespace, names);
  const writesBefore = await childWrites(client);
  const unchanged = await measure();
  const writes = (await childWrites(client)) - writesBefore;

  await deleteNamespaceAndWait(client, namespace);
  return {
    'reconcile.crs': count,
    'reconcile.create.requests_per_reconcile': round(created.requests, 2),
    'reconcile.create.p50_ms': round(percentile(created.latencies, 50)),
    'reconcile.create.p95_ms': round(percentile(created.latencies, 95)),
    'reconcile.unchanged.requests_per_reconcile': round(unchanged.requests, 2),
    'reconcile.unchanged.child_writes_seen_by_apiserver': writes,
    'reconcile.unchanged.p50_ms': round(percentile(unchanged.latencies, 50)),
    'reconcile.unchanged.p95_ms': round(percentile(unchanged.latencies, 95)),
  };
}

/** Reconciles every CR until all report Ready, as the events of their Deployments would. */
async function waitForReady(api: KubeApi, namespace: string, names: string[]): Promise<void> {
  for (let round = 0; round < 120; round++) {
    const ready = await Promise.all(names.map(async (name) => (await reconcile({ api, log: silent }, { namespace, name })).ready));
    if (ready.every(Boolean)) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error('the CRs did not become Ready');
}
