// The control plane's own pace, the floor the burst is measured against: with no operator
// running, a client creates the same children the operator would for N CRs (a Deployment of 2
// replicas, a ClusterIP Service, a ConfigMap: desiredChildren itself, without the owner reference
// that would have the garbage collector delete them), CONCURRENCY requests at once, and a poller
// notes when all exist and when every Deployment is ready. The apiserver counts the requests.
import { collectionPath, desiredChildren, infoOf, type ChildKind } from '../functions/core/children.js';
import { forEachBounded } from '../functions/core/concurrency.js';
import type { KindCustomHttp } from '../functions/core/kindcustomhttp.js';
import type { KubeClient } from '../functions/core/kube-client.js';
import { apiserverRequestsByKind, requestsBetween } from '../infra/local/apiserver-metrics.js';
import { CpuSnapshot } from './cpu.js';
import { BULK_POLL_INTERVAL_MS, Poller } from './poller.js';
import { BURST_SPEC, burstSpec } from './sightings.js';
import { deleteNamespaceAndWait, round } from './stats.js';

/**
 * Requests in flight at once. Of 10, 50 and 100 on this machine (issue 23: 121 s, 102 s, and
 * 100 s with 50 at once and 100 in small runs, within noise), 50: more only queue at the apiserver.
 */
export const FLOOR_CONCURRENCY = 50;

export interface Floor {
  allChildrenSeconds: number;
  deploymentsReadySeconds: number;
  requestsPerCr: number;
}

export async function measureFloor(client: KubeClient, crs: number): Promise<{ floor: Floor; figures: Record<string, number> }> {
  const namespace = `bench-floor-${Date.now().toString(36)}`;
  await client.request('/api/v1/namespaces', { method: 'POST', body: { metadata: { name: namespace } } });
  // The children the operator would make, with the image a CR without one gets.
  const spec = burstSpec();
  const poller = new Poller(client, namespace, false, BULK_POLL_INTERVAL_MS);
  const names = Array.from({ length: crs }, (_, i) => `burst-${i}`);
  const creates = names.flatMap((name) => {
    const cr = { apiVersion: 'groupsp.measutosh.dev/v1', kind: 'KindCustomHttp', metadata: { name, namespace, uid: 'none' }, spec: BURST_SPEC } as KindCustomHttp;
    const children = desiredChildren(cr, spec);
    return Object.entries(children).map(([kind, child]) => ({ kind: kind as ChildKind, body: { ...child, metadata: { ...child.metadata, ownerReferences: undefined } } }));
  });
  try {
    poller.start();
    const before = await apiserverRequestsByKind(client);
    const cpuBefore = new CpuSnapshot();
    const started = Date.now();
    await forEachBounded(creates, FLOOR_CONCURRENCY, async ({ kind, body }) => void (await client.request(collectionPath(infoOf(kind), namespace), { method: 'POST', body })));
    await poller.waitFor(poller.childrenAt, names, 900_000, 'with children');
    await poller.waitFor(poller.deploymentReadyAt, names, 900_000, 'with its Deployment ready');
    const cpu = new CpuSnapshot().since(cpuBefore, 'floor.cpu_seconds');
    const last = (moments: Map<string, number>) => (Math.max(...names.map((name) => moments.get(name)!)) - started) / 1000;
    const requests = requestsBetween(before, await apiserverRequestsByKind(client));
    printRequests('floor', requests);
    const floor = { allChildrenSeconds: last(poller.childrenAt), deploymentsReadySeconds: last(poller.deploymentReadyAt), requestsPerCr: requests.reduce((sum, [, n]) => sum + n, 0) / crs };
    return {
      floor,
      figures: {
        'floor.crs': crs,
        'floor.concurrency': FLOOR_CONCURRENCY,
        'floor.all_children_seconds': round(floor.allChildrenSeconds, 2),
        'floor.deployments_ready_seconds': round(floor.deploymentsReadySeconds, 2),
        // Everything the apiserver served but watches: the client's creates and polls, and the controllers' work.
        'floor.apiserver_requests_per_cr': round(floor.requestsPerCr, 1),
        'floor.apiserver_writes_per_cr': round(writes(requests) / crs, 1),
        // Where the floor's CPU went, component by component, to set beside the burst's.
        ...cpu,
      },
    };
  } finally {
    await poller.stop();
    await deleteNamespaceAndWait(client, namespace);
  }
}

/** Prints what the apiserver served in a measured stretch, by verb and resource, to compare one stretch's with another's. */
export function printRequests(stretch: string, requests: Array<[string, number]>): void {
  console.error(`${stretch}: apiserver requests by verb and resource (not watches): ${requests.map(([key, n]) => `${key} ${n}`).join(', ')}`);
}

/** The write requests among `requests` (`VERB resource` keys). */
export function writes(requests: Array<[string, number]>): number {
  return requests.filter(([key]) => /^(POST|PUT|PATCH|APPLY|DELETE|DELETECOLLECTION|CREATE|UPDATE) /.test(key)).reduce((sum, [, n]) => sum + n, 0);
}
