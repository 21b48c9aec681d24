import { describe, expect, it } from 'vitest';
import { PublishQueue, type PendingEvent } from './queue.js';

function event(objectKey: string, version: string): PendingEvent {
  return { objectKey, eventKey: `${objectKey}@${version}`, entry: { Source: 's', DetailType: 'd', Detail: version } };
}

function queueAt(clock: { now: number }, capacity = 10, coalesceMs = 100) {
  return new PublishQueue({ capacity, coalesceMs, now: () => clock.now });
}

describe('PublishQueue', () => {
  describe('when an object changes again within the coalescing window', () => {
    it('keeps only the latest version, in the first one\'s place', () => {
      const clock = { now: 0 };
      const queue = queueAt(clock);
      queue.offer(event('a', '1'));
      queue.offer(event('b', '1'));

      const result = queue.offer(event('a', '2'));
      clock.now = 100;
      const batch = queue.take(10);

      expect(result).toBe('coalesced');
      expect(batch.map((item) => item.event.eventKey)).toEqual(['a@2', 'b@1']);
    });
  });

  describe('when the window has not passed', () => {
    it('holds events back unless flushing', () => {
      const clock = { now: 0 };
      const queue = queueAt(clock);
      queue.offer(event('a', '1'));

      const early = queue.take(10);
      const flushed = queue.take(10, true);

      expect(early).toEqual([]);
      expect(flushed).toHaveLength(1);
    });
  });

  describe('when taking a batch', () => {
    it('takes at most the number asked for', () => {
      const clock = { now: 0 };
      const queue = queueAt(clock, 30, 0);
      for (let i = 0; i < 25; i++) queue.offer(event(`o${i}`, '1'));

      const sizes = [queue.take(10).length, queue.take(10).length, queue.take(10).length];

      expect(sizes).toEqual([10, 10, 5]);
    });
  });

  describe('when full', () => {
    it('refuses new objects but still merges changes of waiting ones', () => {
      const clock = { now: 0 };
      const queue = queueAt(clock, 2);
      queue.offer(event('a', '1'));
      queue.offer(event('b', '1'));

      const refused = queue.offer(event('c', '1'));
      const merged = queue.offer(event('a', '2'));

      expect([refused, merged]).toEqual(['full', 'coalesced']);
      expect(queue.depth).toBe(2);
    });

    it('counts events in flight towards the bound until they are done', () => {
      const clock = { now: 0 };
      const queue = queueAt(clock, 2, 0);
      queue.offer(event('a', '1'));
      queue.offer(event('b', '1'));
      queue.take(10);

      const whileInFlight = queue.offer(event('c', '1'));
      queue.done(2);
      const afterwards = queue.offer(event('c', '1'));

      expect([whileInFlight, afterwards]).toEqual(['full', 'queued']);
    });

    it('lets a waiting put through once room is made', async () => {
      const clock = { now: 0 };
      const queue = queueAt(clock, 1, 0);
      queue.offer(event('a', '1'));
      const waiting = queue.put(event('b', '1'));

      queue.take(1);
      queue.done();

      await expect(waiting).resolves.toBe('queued');
      expect(queue.highWater).toBe(1);
    });
  });

  describe('when a sent event failed', () => {
    /** A queue without a coalescing window, with version 1 of object `a` in flight. */
    function withOneInFlight() {
      const clock = { now: 0 };
      const queue = queueAt(clock, 10, 0);
      queue.offer(event('a', '1'));
      const [inFlight] = queue.take(10);
      return { clock, queue, inFlight: inFlight! };
    }

    it('offers it again only after its backoff', () => {
      const { clock, queue, inFlight } = withOneInFlight();

      queue.retry(inFlight, 50);
      const early = queue.take(10);
      clock.now = 50;
      const due = queue.take(10);

      expect(early).toEqual([]);
      expect(due.map((i) => [i.event.eventKey, i.attempt])).toEqual([['a@1', 1]]);
    });

    it('drops it when a newer version of its object is already waiting', () => {
      const { clock, queue, inFlight } = withOneInFlight();
      queue.offer(event('a', '2'));

      const kept = queue.retry(inFlight, 50);
      clock.now = 50;
      const batch = queue.take(10);

      expect(kept).toBe(false);
      expect(batch.map((i) => i.event.eventKey)).toEqual(['a@2']);
    });

    it('never lets an older failure replace a newer one waiting for its retry', () => {
      const { clock, queue, inFlight: older } = withOneInFlight();
      queue.offer(event('a', '2'));
      const [newer] = queue.take(10);

      queue.retry(newer!, 10);
      const kept = queue.retry(older, 10);
      clock.now = 10;

      expect(kept).toBe(false);
      expect(queue.take(10).map((i) => i.event.eventKey)).toEqual(['a@2']);
      expect(queue.depth).toBe(1);
    });
  });
});
