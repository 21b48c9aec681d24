// The metadata-only watch against the real apiserver when its history is gone: a watch that
// stopped reading (the queue was full) resumes after etcd was compacted and the apiserver
// restarted, is told 410 Gone, lists again, and publishes the deletion of a child it missed.
import { beforeAll, afterAll, describe, expect, inject, it } from 'vitest';
import type { KindCustomHttp } from '../../functions/core/kindcustomhttp.js';
import type { ForwarderHandle } from '../../functions/forwarder/forwarder.js';
import { compactEtcd, restartApiserver } from '../../infra/local/cluster/index.js';
import { EventBridgeEndpoint } from '../support/eventbridge-endpoint.js';
import { metric, startTestForwarder } from '../support/forwarder.js';
import { adminClients, createNamespace, deleteNamespace, eventually, installCrd } from '../support/kube.js';
import { createCr } from '../support/operator.js';

const { core } = adminClients();
const MANAGED = { 'app.kubernetes.io/managed-by': 'stimulated-peering' };
const ownerReference = (cr: KindCustomHttp) => ({ apiVersion: 'groupsp.measutosh.dev/v1', kind: 'KindCustomHttp', name: cr.metadata.name, uid: cr.metadata.uid!, controller: true });

describe.runIf(inject('localCluster'))('the forwarder', () => {
  let namespace: string;
  let endpoint: EventBridgeEndpoint;
  let forwarder: ForwarderHandle;
  let owner: KindCustomHttp;
  const configMapWatch = () => ({ resource: `ConfigMap/${namespace}` });

  beforeAll(async () => {
    await installCrd();
    namespace = await createNamespace('fwd-relist');
    endpoint = await EventBridgeEndpoint.start();
    owner = await createCr(namespace, 'owner');
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'owner-configmap', labels: MANAGED, ownerReferences: [ownerReference(owner)] } } });
    // Room for one event only, so that one refused event stops every other watch from reading.
    forwarder = await startTestForwarder(endpoint, namespace, { QUEUE_CAPACITY: '1' });
    await eventually('the initial sync', () => forwarder.ready() && endpoint.eventsFor('owner', namespace).length > 0);
  });
  afterAll(async () => {
    await forwarder?.shutdown();
    await endpoint?.close();
    await deleteNamespace(namespace);
  });

  describe('when a child is deleted while its watch is not reading, and the apiserver then forgets that history', () => {
    beforeAll(async () => {
      endpoint.setFaults(() => ({ kind: 'server-error' }));
      await createCr(namespace, 'blocker');
      await eventually('the queue to be full', () => forwarder.queue()!.depth === 1);
      await core.deleteNamespacedConfigMap({ namespace, name: 'owner-configmap' });
      await eventually('the ConfigMap watch to stop reading', async () => (await metric(forwarder, 'forwarder_watch_restarts_total', { ...configMapWatch(), reason: 'backpressure' })) > 0);

      await compactEtcd();
      await restartApiserver();
      endpoint.setFaults(() => ({ kind: 'none' }));
    });

    it('is told 410 Gone, lists again and publishes the deletion it missed, naming the owner', async () => {
      const deleted = () => endpoint.eventsFor('owner-configmap', namespace).find((e) => e.detail.change === 'Deleted');

      await eventually('the missed deletion', deleted, { timeoutMs: 60_000 });

      expect(deleted()!.detail).toMatchObject({ kind: 'ConfigMap', owner: { name: 'owner', uid: owner.metadata.uid } });
      expect(await metric(forwarder, 'forwarder_watch_restarts_total', { ...configMapWatch(), reason: 'gone' })).toBeGreaterThan(0);
    });
  });
});
