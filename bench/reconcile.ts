// The reconcile core against the local control plane: API requests and latency per reconcile,
// and what a resync of unchanged CRs writes.
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { clusterEndpoint } from '../functions/core/cluster-endpoint.js';
import { KubeClient } from '../functions/core/kube-client.js';
import { GROUP, PLURAL, VERSION } from '../functions/core/kindcustomhttp.js';
import { KubeApi } from '../functions/core/kube-api.js';
import { reconcile } from '../functions/core/reconciler.js';
import { forEachBounded } from '../functions/core/concurrency.js';
import { resync } from '../functions/core/resync.js';
import { deleteNamespaceAndWait, percentile, round, timed } from './stats.js';

const silent = { info: () => {}, warn: () => {} };

export async function benchReconcile(kubeconfig: string, count = 200): Promise<Record<string, number>> {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  const client = new KubeClient(clusterEndpoint({ mode: 'kubeconfig', path: kubeconfig }), { timeoutMs: 10_000 });
  const api = new KubeApi(client);
  const core = config.makeApiClient(CoreV1Api);
  const custom = config.makeApiClient(CustomObjectsApi);
  const namespace = `bench-reconcile-${Date.now().toString(36)}`;
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const names = Array.from({ length: count }, (_, i) => `cr-${i}`);
  await forEachBounded(names, 16, async (name) => {
    await custom.createNamespacedCustomObject({
      group: GROUP, version: VERSION, plural: PLURAL, namespace,
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'KindCustomHttp', metadata: { name }, spec: { port: 80, replicaCount: 1, configMapData: { hostports: 'localhost,8080\n' } } },
    });
  });

  // One at a time, so that latencies and request counts belong to one reconcile each.
  const measure = async () => {
    const latencies: number[] = [];
    const before = client.requestCount;
    for (const name of names) latencies.push((await timed(() => reconcile({ api, log: silent }, { namespace, name }))).ms);
    return { latencies, requests: (client.requestCount - before) / names.length };
  };
  const created = await measure();
  // Let the pods come up and the status settle before measuring the unchanged path.
  await waitForReady(config.makeApiClient(AppsV1Api), namespace, count);
  await forEachBounded(names, 8, async (name) => void (await reconcile({ api, log: silent }, { namespace, name })));
  const unchanged = await measure();

  const versionsBefore = await resourceVersions(core, config.makeApiClient(AppsV1Api), custom, namespace);
  const resyncRun = await timed(() => resync({ api, log: silent }, { namespaces: [namespace], concurrency: 8, pageSize: 500, timeLeft: () => 60_000 }));
  const versionsAfter = await resourceVersions(core, config.makeApiClient(AppsV1Api), custom, namespace);
  const rvChanges = [...versionsAfter].filter(([key, rv]) => versionsBefore.get(key) !== rv).length;

  await deleteNamespaceAndWait(client, namespace);
  return {
    'reconcile.crs': count,
    'reconcile.create.requests_per_reconcile': round(created.requests, 2),
    'reconcile.create.p50_ms': round(percentile(created.latencies, 50)),
    'reconcile.create.p95_ms': round(percentile(created.latencies, 95)),
    'reconcile.unchanged.requests_per_reconcile': round(unchanged.requests, 2),
    'reconcile.unchanged.p50_ms': round(percentile(unchanged.latencies, 50)),
    'reconcile.unchanged.p95_ms': round(percentile(unchanged.latencies, 95)),
    'resync.unchanged.seconds': round(resyncRun.ms / 1000, 2),
    'resync.unchanged.crs_per_second': round(count / (resyncRun.ms / 1000)),
    'resync.unchanged.repaired': resyncRun.result.repaired,
    'resync.unchanged.resource_version_changes': rvChanges,
  };
}

async function waitForReady(apps: AppsV1Api, namespace: string, count: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const list = await apps.listNamespacedDeployment({ namespace });
    if (list.items.filter((d) => d.status?.readyReplicas === 1).length === count) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('deployments did not become ready');
}

/** Every resourceVersion of the CRs and their children in the namespace. */
async function resourceVersions(core: CoreV1Api, apps: AppsV1Api, custom: CustomObjectsApi, namespace: string): Promise<Map<string, string>> {
  const [crs, deployments, services, configMaps] = await Promise.all([
    custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace }) as Promise<{ items: Array<{ metadata: { name: string; resourceVersion: string } }> }>,
    apps.listNamespacedDeployment({ namespace }),
    core.listNamespacedService({ namespace }),
    core.listNamespacedConfigMap({ namespace }),
  ]);
  const entries = [
    ...crs.items.map((o) => [`cr/${o.metadata.name}`, o.metadata.resourceVersion] as const),
    ...deployments.items.map((o) => [`deployment/${o.metadata!.name}`, o.metadata!.resourceVersion!] as const),
    ...services.items.map((o) => [`service/${o.metadata!.name}`, o.metadata!.resourceVersion!] as const),
    ...configMaps.items.map((o) => [`configmap/${o.metadata!.name}`, o.metadata!.resourceVersion!] as const),
  ];
  return new Map(entries);
}
