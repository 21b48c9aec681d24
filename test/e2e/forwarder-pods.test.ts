// The forwarder as it ships: its image built here without Docker, deployed with `kubectl apply -k`
// of infra/local/forwarder onto the real node, two replicas electing a leader through their Lease,
// reaching the apiserver through the `kubernetes` Service with their ServiceAccount's token, and the
// local bus on the host's address. The whole local stack runs as `npm start` runs it.
import { ApiException, AppsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetailType } from '../../functions/core/event-contract.js';
import { GROUP, PLURAL, VERSION } from '../../functions/core/kindcustomhttp.js';
import { realNodeName, runningCluster } from '../../infra/local/cluster/index.js';
import type { BusEvent } from '../../infra/local/bus/bus.js';
import { forwarderDeployment, forwarderNamespace, forwarderPodsSetup } from '../../infra/local/forwarder-pods.js';
import type { LocalStack } from '../../infra/local/stack.js';
import { startTestStack } from '../support/stack.js';
import { adminClients, createNamespace, deleteNamespace, eventually, installCrd, serviceAccountConfig } from '../support/kube.js';
import { condition, createCr, getCr, patchCrSpec } from '../support/operator.js';

let namespace: string;
let stack: LocalStack;
const events: BusEvent[] = [];
const { core } = adminClients();
const coordination = adminClients().config.makeApiClient(CoordinationV1Api);

const forwarderPods = async () =>
  (await core.listNamespacedPod({ namespace: forwarderNamespace, labelSelector: `app.kubernetes.io/name=${forwarderDeployment}` })).items.filter((pod) => !pod.metadata?.deletionTimestamp);
const lease = () => coordination.readNamespacedLease({ namespace: forwarderNamespace, name: forwarderDeployment });
const isReady = (pod: V1Pod) => pod.status?.phase === 'Running' && pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
/** The events about CR `name` itself (not its children). */
const crEvents = (name: string) =>
  events.filter((e) => {
    const detail = e.detail as { namespace?: string; name?: string };
    return e['detail-type'] === DetailType.ResourceChanged && detail.namespace === namespace && detail.name === name;
  });

/** Ready for the spec it has now: the reconcile of its latest generation succeeded. */
async function convergedCr(name: string): Promise<boolean> {
  const cr = await getCr(namespace, name);
  const ready = condition(cr, 'Ready');
  return ready?.status === 'True' && ready.observedGeneration === cr.metadata.generation && cr.status?.observedGeneration === cr.metadata.generation;
}

async function metricsOf(pod: V1Pod): Promise<Record<string, number>> {
  const text = await (await fetch(`http://${pod.status!.podIP}:8080/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  const values: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^(forwarder_leader|forwarder_events_published_total) (\S+)$/.exec(line);
    if (match) values[match[1]!] = Number(match[2]);
  }
  return values;
}

beforeAll(async () => {
  const state = runningCluster();
  if (!state?.node) throw new Error('these tests need the local cluster with its real node (npm run cluster:up)');
  await installCrd();
  namespace = await createNamespace('fwd-pods');
  stack = await startTestStack(namespace, {
    forwarderPods: forwarderPodsSetup(state),
    onBusEvent: (event) => events.push(event),
  });
});
afterAll(async () => {
  await stack?.stop();
  if (namespace) await deleteNamespace(namespace);
});

describe('the forwarder deployed with infra/local/forwarder', () => {
  it('runs two pods on the real node, Running and Ready through their probes, one of them holding the Lease', async () => {
    const pods = await eventually('two ready forwarder pods', async () => {
      const current = await forwarderPods();
      return current.length === 2 && current.every(isReady) && current;
    });
    const holder = await eventually('a holder of the Lease', async () => (await lease()).spec?.holderIdentity);

    const names = pods.map((pod) => pod.metadata!.name!);
    expect(names).toContain(holder);
    expect(pods.map((pod) => pod.spec?.nodeName)).toEqual([realNodeName, realNodeName]);
    expect(pods.every((pod) => pod.status?.containerStatuses?.[0]?.ready && pod.status.containerStatuses[0].restartCount === 0)).toBe(true);
    const leaders = await Promise.all(pods.map(async (pod) => (await metricsOf(pod)).forwarder_leader));
    expect(leaders.sort()).toEqual([0, 1]);
  });

  it('puts a CR applied on the bus once, and the CR converges', async () => {
    await createCr(namespace, 'applied-once');

    await eventually('the CR to converge', () => convergedCr('applied-once'), { timeoutMs: 60_000 });

    // Its own status writes on the way to Ready are not events: the one event is its creation.
    expect(crEvents('applied-once').map((e) => (e.detail as { change: string }).change)).toEqual(['Added']);
  });

  it('shows its published-event counter moving in /metrics, scraped from the leader pod’s IP', async () => {
    const holder = (await lease()).spec!.holderIdentity!;
    const leader = (await forwarderPods()).find((pod) => pod.metadata?.name === holder)!;
    const before = (await metricsOf(leader)).forwarder_events_published_total ?? 0;

    await createCr(namespace, 'counted');

    await eventually('the counter to move', async () => ((await metricsOf(leader)).forwarder_events_published_total ?? 0) > before);
  });

  it('is refused (403) any write but its own Lease, acting as its ServiceAccount', async () => {
    const identity = await serviceAccountConfig(forwarderNamespace, forwarderDeployment);
    const refused = async (what: string, write: () => Promise<unknown>) => {
      const error = await write().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, what).toBeInstanceOf(ApiException);
      expect((error as ApiException<unknown>).code, what).toBe(403);
    };
    const custom = identity.makeApiClient(CustomObjectsApi);
    const apps = identity.makeApiClient(AppsV1Api);
    const asForwarder = identity.makeApiClient(CoreV1Api);
    const leases = identity.makeApiClient(CoordinationV1Api);

    await refused('create a CR', () => custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'KindCustomHttp', metadata: { name: 'not-mine' }, spec: { port: 80, replicaCount: 1 } } }));
    await refused('scale a Deployment', () => apps.patchNamespacedDeploymentScale({ namespace, name: 'applied-once', body: [{ op: 'replace', path: '/spec/replicas', value: 5 }] }));
    await refused('create a ConfigMap', () => asForwarder.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'not-mine' } } }));
    await refused('delete a Service', () => asForwarder.deleteNamespacedService({ namespace, name: 'applied-once' }));
    await refused('read a Secret', () => asForwarder.listNamespacedSecret({ namespace: forwarderNamespace }));
    await refused('take another Lease', () => leases.createNamespacedLease({ namespace, body: { metadata: { name: 'not-mine' }, spec: {} } }));
    // Its own Lease it may write: a dry run is authorised as the real write is, and leaves the election alone.
    const own = await lease();
    await expect(leases.replaceNamespacedLease({ namespace: forwarderNamespace, name: forwarderDeployment, body: own, dryRun: 'All' })).resolves.toBeDefined();
  });

  it('hands over to the other pod within the Lease duration when the leader’s pod is deleted, and loses no change made meanwhile', async () => {
    const names = ['failover-a', 'failover-b', 'failover-c'];
    for (const name of names) await createCr(namespace, name);
    await eventually('the CRs to converge', async () => (await Promise.all(names.map(convergedCr))).every(Boolean), { timeoutMs: 60_000 });
    const before = await lease();
    const leader = before.spec!.holderIdentity!;

    const deleted = Date.now();
    await core.deleteNamespacedPod({ namespace: forwarderNamespace, name: leader });
    // Changes while the leader stops and the standby takes over: each CR scaled three times.
    let changes = 0;
    for (const replicas of [3, 4, 5]) {
      for (const name of names) {
        await patchCrSpec(namespace, name, { replicaCount: replicas });
        changes++;
      }
    }
    // The leader releases the Lease as it stops, so the standby or the pod the Deployment starts in
    // the deleted one's place may win it: either is a takeover, as long as a live pod holds it.
    const taken = await eventually('another pod to hold the Lease', async () => {
      const current = await lease();
      const holder = current.spec?.holderIdentity;
      const live = (await forwarderPods()).map((pod) => pod.metadata!.name!);
      return holder !== undefined && holder !== leader && live.includes(holder) && current;
    });

    const tookMs = new Date(taken.spec!.acquireTime!).getTime() - deleted;
    expect(tookMs).toBeLessThanOrEqual(before.spec!.leaseDurationSeconds! * 1000);
    await eventually('every change to converge', async () => (await Promise.all(names.map(convergedCr))).every(Boolean), { timeoutMs: 90_000 });
    for (const name of names) expect((await getCr(namespace, name)).status?.replicas).toBe(5);
    expect(changes).toBe(9);
    console.log(`forwarder failover: ${taken.spec!.holderIdentity} held the Lease ${tookMs} ms after the leader's pod was deleted (lease ${before.spec!.leaseDurationSeconds} s); ${changes} changes converged`);
  });
});
