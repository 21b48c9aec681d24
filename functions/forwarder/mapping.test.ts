import * as z from 'zod/mini';
import { describe, expect, it } from 'vitest';
import { childKindInfo, childKinds } from '../core/children.js';
import { childChangedDetailSchema, DetailType, resourceChangedDetailSchema } from '../core/event-contract.js';
import { eventFor, recordOf, watchedResources } from './mapping.js';

const owner = { apiVersion: 'groupsp.measutosh.dev/v1', kind: 'KindCustomHttp', name: 'web', uid: 'cr-uid', controller: true };

describe('watchedResources', () => {
  it('watches the CRs and every kind of the children table, children by the managed-by label', () => {
    const resources = watchedResources('ns');

    expect(resources.map((r) => [r.kind, r.collection, r.labelSelector])).toEqual([
      ['KindCustomHttp', '/apis/groupsp.measutosh.dev/v1/namespaces/ns/kindcustomhttps', undefined],
      ...childKinds.map((kind) => [kind, `${childKindInfo[kind].groupPath}/namespaces/ns/${childKindInfo[kind].plural}`, 'app.kubernetes.io/managed-by=stimulated-peering']),
    ]);
  });
});

describe('recordOf', () => {
  describe('when a child has a KindCustomHttp as its controller', () => {
    it('remembers the owner', () => {
      const record = recordOf('Service', { metadata: { name: 'web', namespace: 'ns', uid: 'svc-uid', resourceVersion: '7', ownerReferences: [owner] } });

      expect(record).toEqual({ uid: 'svc-uid', resourceVersion: '7', owner: { name: 'web', uid: 'cr-uid' } });
    });
  });

  describe('when the child is a Deployment, watched whole', () => {
    it('remembers its generation and the phase of its rollout', () => {
      const deployment = (readyReplicas: number) => ({
        metadata: { name: 'web', namespace: 'ns', uid: 'd', resourceVersion: '9', generation: 3, ownerReferences: [owner] },
        spec: { replicas: 2 },
        status: { observedGeneration: 3, replicas: 2, updatedReplicas: 2, readyReplicas },
      });

      expect([recordOf('Deployment', deployment(1)), recordOf('Deployment', deployment(2))]).toEqual([
        { uid: 'd', resourceVersion: '9', generation: 3, owner: { name: 'web', uid: 'cr-uid' }, phase: 'rolling' },
        { uid: 'd', resourceVersion: '9', generation: 3, owner: { name: 'web', uid: 'cr-uid' }, phase: 'complete' },
      ]);
    });
  });

  describe('when a child has no such controller', () => {
    it('returns nothing, so no event is made', () => {
      const notController = { ...owner, controller: false };
      const otherKind = { ...owner, kind: 'ReplicaSet', apiVersion: 'apps/v1' };

      const records = [[], [notController], [otherKind]].map((ownerReferences) =>
        recordOf('ConfigMap', { metadata: { name: 'x', namespace: 'ns', uid: 'u', resourceVersion: '1', ownerReferences } }),
      );

      expect(records).toEqual([undefined, undefined, undefined]);
    });
  });
});

describe('eventFor', () => {
  it('builds a CR event with the contract’s key and nothing but metadata, queued under the CR', () => {
    const event = eventFor('KindCustomHttp', 'ns', 'web', { uid: 'cr-uid', resourceVersion: '9', generation: 3 }, 'Modified');

    const detail = z.strictObject(resourceChangedDetailSchema.shape).parse(JSON.parse(event.entry.Detail));

    expect(event.entry.DetailType).toBe(DetailType.ResourceChanged);
    expect(event.key).toBe('ns/web');
    expect(detail).toEqual({ key: 'cr-uid/9/Modified', namespace: 'ns', name: 'web', uid: 'cr-uid', resourceVersion: '9', generation: 3, change: 'Modified' });
  });

  it('builds a child event naming its owner, queued under the owner', () => {
    const event = eventFor('ConfigMap', 'ns', 'web-configmap', { uid: 'c-uid', resourceVersion: '4', owner: { name: 'web', uid: 'cr-uid' } }, 'Deleted');

    const detail = z.strictObject(childChangedDetailSchema.shape).parse(JSON.parse(event.entry.Detail));

    expect(event.entry.DetailType).toBe(DetailType.ChildChanged);
    expect(event.key).toBe('ns/web');
    expect(detail).toMatchObject({ kind: 'ConfigMap', owner: { name: 'web', uid: 'cr-uid' }, change: 'Deleted', key: 'c-uid/4/Deleted' });
  });
});
