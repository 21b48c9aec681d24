import { describe, expect, it } from 'vitest';
import { PublishQueue, type PendingEvent } from './queue.js';

/** An event asking to reconcile CR `key`, about change `change` (of the CR or one of its children). */
function event(key: string, change: string): PendingEvent {
  return { key, eventKey: `${key}@${change}`, entry: { Source: 's', DetailType: 'd', Detail: change } };
}

function queueAt(clock: { now: number }, capacity = 10) {
  return new PublishQueue({ capacity, now: () => clock.now });
}

describe('PublishQueue', () => {
  describe('when a CR and its children change many times while its event waits', () => {
    it('makes one event, carrying the latest change, in the first one’s place', () => {
      const queue = queueAt({ now: 0 });
      queue.offer(event('ns/a', 'cr-1'));
      queue.offer(event('ns/b', 'cr-1'));

      const results = ['deployment-1', 'service-1', 'cr-2', 'deployment-2'].map((change) => queue.offer(event('ns/a', change)));
      const batch = queue.take(10);

      expect(results).toEqual(['coalesced', 'coalesced', 'coalesced', 'coalesced']);
      expect(batch.map((item) => item.event.eventKey)).toEqual(['ns/a@deployment-2', 'ns/b@cr-1']);
    });
  });

  describe('when a CR changes while its event is in flight', () => {
    it('sends exactly one more event after it, with the latest change', () => {
      const queue = queueAt({ now: 0 });
      queue.offer(event('ns/a', '1'));
      const first = queue.take(10);

      queue.offer(event('ns/a', '2'));
      queue.offer(event('ns/a', '3'));
      const whileInFlight = queue.take(10);
      queue.done(first);
      const after = queue.take(10);
      queue.done(after);

      expect(whileInFlight).toEqual([]);
      expect(after.map((item) => item.event.eventKey)).toEqual(['ns/a@3']);
      expect(queue.take(10)).toEqual([]);
      expect(queue.depth).toBe(0);
    });

    it('sends the newer change instead of the failed one, at once', () => {
      const queue = queueAt({ now: 0 });
      queue.offer(event('ns/a', '1'));
      const [inFlight] = queue.take(10);
      queue.offer(event('ns/a', '2'));

      const kept = queue.retry(inFlight!, 1000);

      expect(kept).toBe(false);
      expect(queue.take(10).map((item) => [item.event.eventKey, item.attempt])).toEqual([['ns/a@2', 0]]);
    });
  });

  describe('when taking a batch', () => {
    it('takes at most the number asked for, oldest first', () => {
      const queue = queueAt({ now: 0 }, 30);
      for (let i = 0; i < 25; i++) queue.offer(event(`ns/o${i}`, '1'));

      const batches = [queue.take(10), queue.take(10), queue.take(10)];

      expect(batches.map((batch) => batch.length)).toEqual([10, 10, 5]);
      expect(batches[0]![0]!.event.key).toBe('ns/o0');
    });
  });

  describe('when full', () => {
    it('refuses new CRs but still merges changes of waiting ones', () => {
      const queue = queueAt({ now: 0 }, 2);
      queue.offer(event('ns/a', '1'));
      queue.offer(event('ns/b', '1'));

      const refused = queue.offer(event('ns/c', '1'));
      const merged = queue.offer(event('ns/a', '2'));

      expect([refused, merged]).toEqual(['full', 'coalesced']);
      expect(queue.depth).toBe(2);
    });

    it('counts events in flight, and changes waiting behind them, towards the bound', () => {
      const queue = queueAt({ now: 0 }, 3);
      queue.offer(event('ns/a', '1'));
      queue.offer(event('ns/b', '1'));
      const batch = queue.take(10);
      queue.offer(event('ns/a', '2'));

      const whileInFlight = queue.offer(event('ns/c', '1'));
      queue.done(batch);
      const afterwards = queue.offer(event('ns/c', '1'));

      expect([whileInFlight, afterwards]).toEqual(['full', 'queued']);
      expect(queue.highWater).toBe(3);
    });

    it('lets a waiting put through once room is made', async () => {
      const queue = queueAt({ now: 0 }, 1);
      queue.offer(event('ns/a', '1'));
      const waiting = queue.put(event('ns/b', '1'));

      queue.done(queue.take(1));

      await expect(waiting).resolves.toBe('queued');
      expect(queue.highWater).toBe(1);
    });
  });

  describe('when a sent event failed', () => {
    it('offers the very same entry again only after its backoff', () => {
      const clock = { now: 0 };
      const queue = queueAt(clock);
      queue.offer(event('ns/a', '1'));
      const [inFlight] = queue.take(10);

      queue.retry(inFlight!, 50);
      const early = queue.take(10);
      clock.now = 50;
      const due = queue.take(10);

      expect(early).toEqual([]);
      expect(due.map((item) => [item.event.eventKey, item.attempt])).toEqual([['ns/a@1', 1]]);
    });

    it('lets a newer change of the same CR replace it, keeping the backoff', () => {
      const clock = { now: 0 };
      const queue = queueAt(clock);
      queue.offer(event('ns/a', '1'));
      queue.retry(queue.take(10)[0]!, 50);

      const result = queue.offer(event('ns/a', '2'));
      const early = queue.take(10);
      clock.now = 50;

      expect([result, early]).toEqual(['coalesced', []]);
      expect(queue.take(10).map((item) => item.event.eventKey)).toEqual(['ns/a@2']);
    });
  });

  describe('waitingSince', () => {
    it('is when the queue last went from empty to not, and clears when it empties', () => {
      const clock = { now: 5 };
      const queue = queueAt(clock);
      queue.offer(event('ns/a', '1'));
      clock.now = 9;
      queue.offer(event('ns/b', '1'));
      const whileWaiting = queue.waitingSince;

      queue.done(queue.take(10));

      expect([whileWaiting, queue.waitingSince]).toEqual([5, undefined]);
    });
  });
});
