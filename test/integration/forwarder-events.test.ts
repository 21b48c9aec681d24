// The forwarder against the real control plane and a recording EventBridge endpoint: every change
// to a KindCustomHttp or to an object it owns reaches the bus as a thin contract event.
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { DetailType, reconcileEventSchema, FORWARDER_SOURCE } from '../../functions/core/event-contract.js';
import type { KindCustomHttp } from '../../functions/core/kindcustomhttp.js';
import type { EventBridgeEndpoint } from '../support/eventbridge-endpoint.js';
import { metric, TEST_BUS, useForwarder } from '../support/forwarder.js';
import { adminClients, eventually } from '../support/kube.js';
import { reconcile } from '../../functions/core/reconciler.js';
import { createCr, deleteCr, getCr, operatorApi, patchCrMetadata, patchCrSpec, patchCrStatus, silentLog } from '../support/operator.js';

const { apps, core } = adminClients();
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const SECRET_MARKER = 'do-not-leak-7f3a';
const EXISTING = ['existing', 'existing-2', 'existing-3', 'existing-4', 'existing-5'];
// Pages of two, so the first list takes several pages.
const fixture = useForwarder('fwd-events', { LIST_PAGE_SIZE: '2' }, async (namespace) => {
  await createCr(namespace, 'existing', { configMapData: { hostports: 'localhost,8080\n', note: SECRET_MARKER } });
  for (const name of EXISTING.slice(1)) await createCr(namespace, name);
});

const MANAGED = { 'app.kubernetes.io/managed-by': 'stimulated-peering' };
const ownerReference = (cr: KindCustomHttp) => ({ apiVersion: 'groupsp.measutosh.dev/v1', kind: 'KindCustomHttp', name: cr.metadata.name, uid: cr.metadata.uid!, controller: true });
const arrived = (description: string, check: () => boolean) => eventually(description, check, { timeoutMs: 30_000 });

describe('the forwarder', () => {
  let namespace: string;
  let endpoint: EventBridgeEndpoint;
  beforeAll(() => {
    ({ namespace, endpoint } = fixture);
  });

  describe('when it starts', () => {
    it('publishes one Synced event for each CR that already exists', async () => {
      const cr = await getCr(namespace, 'existing');

      await arrived('the Synced event', () => endpoint.has('existing', cr.metadata.resourceVersion!, 'Synced'));

      const synced = endpoint.eventsFor('existing', namespace).filter((e) => e.detail.change === 'Synced');
      expect(synced).toHaveLength(1);
      expect(synced[0]).toMatchObject({ bus: TEST_BUS, source: FORWARDER_SOURCE, detailType: DetailType.ResourceChanged });
      expect(synced[0]!.detail).toMatchObject({ namespace, name: 'existing', uid: cr.metadata.uid, generation: 1 });
    });

    it('lists every page of CRs', async () => {
      await arrived('a Synced event for every CR', () => EXISTING.every((name) => endpoint.eventsFor(name).some((e) => e.detail.change === 'Synced')));
    });
  });

  describe('when a CR is created, updated and deleted', () => {
    it('publishes Added, Modified and Deleted events for those versions', async () => {
      const created = await createCr(namespace, 'lifecycle');
      await arrived('the Added event', () => endpoint.has('lifecycle', created.metadata.resourceVersion!, 'Added'));

      await patchCrSpec(namespace, 'lifecycle', { replicaCount: 3 });
      const updated = await getCr(namespace, 'lifecycle');
      await arrived('the Modified event', () => endpoint.has('lifecycle', updated.metadata.resourceVersion!, 'Modified'));

      await deleteCr(namespace, 'lifecycle');
      await arrived('the Deleted event', () => endpoint.eventsFor('lifecycle').some((e) => e.detail.change === 'Deleted'));

      const modified = endpoint.eventsFor('lifecycle').find((e) => e.detail.change === 'Modified')!;
      expect(modified.detail).toMatchObject({ uid: created.metadata.uid, generation: 2, key: `${created.metadata.uid}/${updated.metadata.resourceVersion}/Modified` });
    });
  });

  describe('when only a CR’s status or labels change', () => {
    it('publishes nothing, since its children follow from its spec alone', async () => {
      const created = await createCr(namespace, 'status-only');
      await arrived('the Added event', () => endpoint.has('status-only', created.metadata.resourceVersion!, 'Added'));
      const modifiedSeen = () => metric(fixture.forwarder, 'forwarder_events_observed_total', { resource: 'KindCustomHttp', change: 'Modified' });
      const seenBefore = await modifiedSeen();

      // A status write (as the reconciler's) and a label someone else adds; no child exists, so
      // nothing else could take the place of an event for them in the CR's queue entry.
      await patchCrStatus(namespace, 'status-only', { observedGeneration: 1, replicas: 0 });
      await patchCrMetadata(namespace, 'status-only', { labels: { team: 'payments' } });
      await eventually('the watch to see both', async () => (await modifiedSeen()) >= seenBefore + 2 && fixture.forwarder.queue()!.depth === 0, { timeoutMs: 30_000 });
      const crEvents = () => endpoint.eventsFor('status-only', namespace).filter((e) => e.detailType === DetailType.ResourceChanged);
      expect(crEvents().map((e) => e.detail.change)).toEqual(['Added']);

      await patchCrSpec(namespace, 'status-only', { replicaCount: 1 });
      const updated = await getCr(namespace, 'status-only');
      await arrived('the spec change', () => endpoint.has('status-only', updated.metadata.resourceVersion!, 'Modified'));
      expect(crEvents().map((e) => [e.detail.change, e.detail.generation])).toEqual([['Added', 1], ['Modified', 2]]);
    });
  });

  describe('when an object a CR owns is edited or deleted', () => {
    it('publishes child events naming the owning CR', async () => {
      const cr = await createCr(namespace, 'parent');
      // Children made here rather than by a reconcile: a Deployment's status moves by itself, and
      // the changes of one CR's children that wait together make one event, the latest.
      const metadata = (name: string) => ({ name, labels: MANAGED, ownerReferences: [ownerReference(cr)] });
      await core.createNamespacedConfigMap({ namespace, body: { metadata: metadata('parent-configmap'), data: { hostports: 'a,1\n' } } });
      await core.createNamespacedService({ namespace, body: { metadata: metadata('parent'), spec: { ports: [{ port: 80 }] } } });
      const serviceEdited = await core.patchNamespacedService({ namespace, name: 'parent', body: { metadata: { annotations: { edited: 'by hand' } } } }, mergePatch);
      await arrived('the Service edit', () => endpoint.has('parent', serviceEdited.metadata!.resourceVersion!, 'Modified'));

      const edited = await core.patchNamespacedConfigMap({ namespace, name: 'parent-configmap', body: { data: { hostports: 'drift,1\n' } } }, mergePatch);
      await arrived('the ConfigMap edit', () => endpoint.has('parent-configmap', edited.metadata!.resourceVersion!, 'Modified'));
      await core.deleteNamespacedService({ namespace, name: 'parent' });
      await arrived('the Service deletion', () => endpoint.eventsFor('parent').some((e) => e.detail.kind === 'Service' && e.detail.change === 'Deleted'));
      const parentsChildren = ['parent', 'parent-configmap'];
      const childEvents = endpoint.events.filter((e) => e.detailType === DetailType.ChildChanged && e.detail.namespace === namespace && parentsChildren.includes(e.detail.name));
      expect(childEvents.map((e) => e.detail.owner)).toEqual(childEvents.map(() => ({ name: 'parent', uid: cr.metadata.uid })));
      expect(new Set(childEvents.map((e) => e.detail.kind))).toEqual(new Set(['ConfigMap', 'Service']));
    });

    it('ignores labelled objects that no CR controls', async () => {
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'stray', labels: MANAGED }, data: { a: 'b' } } });
      const cr = await createCr(namespace, 'after-stray');
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'owned', labels: MANAGED, ownerReferences: [ownerReference(cr)] } } });
      const owned = await core.patchNamespacedConfigMap({ namespace, name: 'owned', body: { data: { a: 'b' } } }, mergePatch);

      // The ConfigMap watch delivers in order, so once the later object's event is in, the stray one would be too.
      await arrived('the owned ConfigMap', () => endpoint.has('owned', owned.metadata!.resourceVersion!));

      expect(endpoint.eventsFor('stray')).toEqual([]);
    });
  });

  describe('when a Deployment a CR owns rolls out', () => {
    it('publishes its rollout completing, not its creation nor each pod becoming ready', async () => {
      await createCr(namespace, 'rolling', { replicaCount: 3 });
      await reconcile({ api: operatorApi(), log: silentLog }, { namespace, name: 'rolling' });
      const deploymentEvents = () => endpoint.eventsFor('rolling').filter((e) => e.detail.kind === 'Deployment');

      await arrived('the rollout completing', () => deploymentEvents().length > 0);
      const deployment = await apps.readNamespacedDeployment({ namespace, name: 'rolling' });

      expect(deployment.status).toMatchObject({ readyReplicas: 3, availableReplicas: 3 });
      expect(deploymentEvents()).toHaveLength(1);
      expect(deploymentEvents()[0]!.detail).toMatchObject({ change: 'Modified', resourceVersion: deployment.metadata!.resourceVersion });
      expect(endpoint.eventsFor('rolling').filter((e) => e.detail.change === 'Added' && e.detail.kind)).toEqual([]);
    });
  });

  describe('over HTTP', () => {
    const get = (path: string) => fetch(`http://127.0.0.1:${fixture.forwarder.port}${path}`);

    it('reports itself live and ready once its watches have listed', async () => {
      const [healthz, readyz] = await Promise.all([get('/healthz'), get('/readyz')]);

      expect([healthz.status, readyz.status]).toEqual([200, 200]);
    });

    it('exposes the counts and gauges operators need in Prometheus format', async () => {
      const text = await (await get('/metrics')).text();

      for (const name of [
        'forwarder_events_observed_total',
        'forwarder_events_published_total',
        'forwarder_events_failed_total',
        'forwarder_events_retried_total',
        'forwarder_queue_depth',
        'forwarder_watch_restarts_total',
        'forwarder_last_watch_event_age_seconds',
      ]) {
        expect(text).toContain(`# TYPE ${name} `);
      }
      expect(text).toMatch(new RegExp(`^forwarder_last_watch_event_age_seconds\\{resource="KindCustomHttp/${namespace}"\\} `, 'm'));
    });
  });

  describe('whatever it publishes', () => {
    it('keeps to the contract and never carries spec or data', async () => {
      await arrived('the Synced events', () => EXISTING.every((name) => endpoint.eventsFor(name, namespace).length > 0));
      const ours = endpoint.events.filter((e) => e.detail.namespace === namespace);

      const parsed = ours.map((e) => reconcileEventSchema.safeParse({ id: e.id, source: e.source, 'detail-type': e.detailType, detail: e.detail }));

      expect(ours.length).toBeGreaterThan(0);
      expect(parsed.every((result) => result.success)).toBe(true);
      expect(JSON.stringify(ours)).not.toContain(SECRET_MARKER);
      expect(ours.flatMap((e) => Object.keys(e.detail)).filter((key) => ['spec', 'data', 'status'].includes(key))).toEqual([]);
    });
  });
});
