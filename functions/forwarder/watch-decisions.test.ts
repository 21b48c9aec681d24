import { describe, expect, it } from 'vitest';
import { ApiError, NoAnswerError } from '../core/kube-client.js';
import { decideChange, failureEnd, nextStep, parseWatchLine, publishListed, remember, vanished, type Store } from './watch-decisions.js';

const backoff = { baseMs: 100, maxMs: 1000 };
const owner = { apiVersion: 'groupsp.measutosh.dev/v1', kind: 'KindCustomHttp', name: 'web', uid: 'cr-uid', controller: true };
const cr = (resourceVersion: string, generation: number) => ({ name: 'web', namespace: 'ns', uid: 'cr-uid', resourceVersion, generation });

describe('parseWatchLine', () => {
  it('reads changes, bookmarks, 410 Gone and other errors', () => {
    const lines = [
      { type: 'MODIFIED', object: { kind: 'PartialObjectMetadata', metadata: cr('5', 2) } },
      { type: 'BOOKMARK', object: { metadata: { resourceVersion: '9' } } },
      { type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old resource version' } },
      { type: 'ERROR', object: { kind: 'Status', code: 500 } },
    ].map((event) => parseWatchLine(JSON.stringify(event)));

    expect(lines).toEqual([
      { type: 'change', change: 'Modified', object: { metadata: cr('5', 2) } },
      { type: 'bookmark', resourceVersion: '9' },
      { type: 'error', end: 'gone', status: { code: 410, message: 'too old resource version' } },
      { type: 'error', end: 'error', status: { code: 500 } },
    ]);
  });
});

describe('decideChange', () => {
  it('publishes a CR whose generation moved, not one whose status or labels did', () => {
    const previous = { uid: 'cr-uid', resourceVersion: '4', generation: 1 };

    const specChanged = decideChange('KindCustomHttp', 'Modified', { metadata: cr('5', 2) }, previous);
    const statusOnly = decideChange('KindCustomHttp', 'Modified', { metadata: cr('5', 1) }, previous);

    expect([specChanged.publish, statusOnly.publish]).toEqual([true, false]);
    expect(statusOnly.record).toEqual({ uid: 'cr-uid', resourceVersion: '5', generation: 1 });
  });

  it('publishes changes of a child a CR controls, and none of one it does not', () => {
    const owned = decideChange('Service', 'Modified', { metadata: { name: 'web', namespace: 'ns', uid: 's', resourceVersion: '3', ownerReferences: [owner] } }, undefined);
    const stray = decideChange('Service', 'Modified', { metadata: { name: 'x', namespace: 'ns', uid: 'x', resourceVersion: '3' } }, undefined);

    expect([owned.publish, stray.publish, stray.record]).toEqual([true, false, undefined]);
  });

  describe('for a Deployment, watched whole', () => {
    const deployment = (resourceVersion: string, generation: number, readyReplicas: number) => ({
      metadata: { name: 'web', namespace: 'ns', uid: 'd', resourceVersion, generation, ownerReferences: [owner] },
      spec: { replicas: 2 },
      status: { observedGeneration: generation, replicas: 2, updatedReplicas: 2, readyReplicas },
    });
    const seen = decideChange('Deployment', 'Added', deployment('3', 1, 0), undefined).record;

    it('publishes nothing when it is added: the reconcile that made it has reported it', () => {
      expect(decideChange('Deployment', 'Added', deployment('3', 1, 0), undefined).publish).toBe(false);
    });

    it('publishes nothing while its pods come up one by one, and an event when its rollout completes', () => {
      const onePod = decideChange('Deployment', 'Modified', deployment('4', 1, 1), seen);
      const allPods = decideChange('Deployment', 'Modified', deployment('5', 1, 2), onePod.record);

      expect([onePod.publish, allPods.publish]).toEqual([false, true]);
    });

    it('publishes a change of its spec, such as a hand-made scale, whatever its status', () => {
      expect(decideChange('Deployment', 'Modified', deployment('4', 2, 0), seen).publish).toBe(true);
    });

    it('publishes its deletion', () => {
      expect(decideChange('Deployment', 'Deleted', deployment('4', 1, 0), seen).publish).toBe(true);
    });
  });
});

describe('remember', () => {
  it('keeps what a change left and forgets what was deleted', () => {
    const store: Store = new Map();
    const metadata = cr('5', 1);

    remember(store, 'Added', decideChange('KindCustomHttp', 'Added', { metadata }, undefined));
    const afterAdd = [...store.keys()];
    remember(store, 'Deleted', decideChange('KindCustomHttp', 'Deleted', { metadata }, undefined));

    expect([afterAdd, [...store.keys()]]).toEqual([['ns/web'], []]);
  });
});

describe('publishListed', () => {
  const record = { uid: 'u', resourceVersion: '7', generation: 2 };

  it('publishes every CR on the first list, and only remembers children', () => {
    expect([publishListed('KindCustomHttp', record, undefined, true), publishListed('Service', record, undefined, true)]).toEqual([true, false]);
  });

  it('on a relist, publishes what changed since it was last seen', () => {
    const service = { uid: 's', resourceVersion: '7' };
    const unchanged = publishListed('Service', service, { ...service }, false);
    const childChanged = publishListed('Service', service, { ...service, resourceVersion: '6' }, false);
    const crStatusOnly = publishListed('KindCustomHttp', record, { ...record, resourceVersion: '6' }, false);
    const crSpec = publishListed('KindCustomHttp', record, { ...record, resourceVersion: '6', generation: 1 }, false);
    const crAppeared = publishListed('KindCustomHttp', record, undefined, false);
    const childAppeared = publishListed('ConfigMap', record, undefined, false);

    expect([unchanged, childChanged, crStatusOnly, crSpec, crAppeared, childAppeared]).toEqual([false, true, false, true, true, false]);
  });
});

describe('vanished', () => {
  it('names what the store has and the list no longer does', () => {
    const gone = { uid: 'g', resourceVersion: '1', owner: { name: 'web', uid: 'cr-uid' } };
    const kept = { uid: 'k', resourceVersion: '2' };
    const store: Store = new Map([['ns/gone', gone], ['ns/kept', kept]]);

    expect(vanished(store, new Map([['ns/kept', kept]]))).toEqual([['ns/gone', gone]]);
  });
});

describe('failureEnd', () => {
  it('tells 410 Gone, no answer and other failures apart', () => {
    const ends = [new ApiError('GET /x', 410, { reason: 'Expired' }), new NoAnswerError('GET /x', { ms: 5 }), new ApiError('GET /x', 403, {}), new Error('boom')].map(failureEnd);

    expect(ends).toEqual(['gone', 'silent', 'error', 'error']);
  });
});

describe('nextStep', () => {
  it('resumes at once after a healthy watch the server ended, relisting after 410 Gone', () => {
    expect([nextStep('closed', true, 3, backoff), nextStep('gone', true, 3, backoff)]).toEqual([
      { relist: false, wait: 0, failures: 0 },
      { relist: true, wait: 0, failures: 0 },
    ]);
  });

  it('waits for room when the queue was full', () => {
    expect(nextStep('backpressure', true, 2, backoff)).toEqual({ relist: false, wait: 'room', failures: 0 });
  });

  it('backs off longer after each failure in a row', () => {
    const first = nextStep('error', false, 0, backoff);
    const fourth = nextStep('silent', false, 3, backoff);

    expect(first).toMatchObject({ relist: false, failures: 1 });
    expect(first.wait).toBeLessThanOrEqual(100);
    expect(fourth).toMatchObject({ relist: false, failures: 4 });
    expect(fourth.wait).toBeGreaterThanOrEqual(80);
  });
});
