import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MessageQueue } from './queue.js';

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

const settings = { visibilityTimeoutMs: 30_000, maxReceiveCount: 3 };

describe('MessageQueue', () => {
  it('hides a received message until its visibility timeout passes, then delivers it again with a higher receive count', () => {
    const queue = new MessageQueue(settings);
    queue.send('a');

    const first = queue.receive(10);
    const hidden = queue.receive(10);
    vi.advanceTimersByTime(30_000);
    const again = queue.receive(10);

    expect(first.map((m) => m.body)).toEqual(['a']);
    expect(hidden).toEqual([]);
    expect(again).toHaveLength(1);
    expect(again[0]!.receiveCount).toBe(2);
    expect(queue.counters).toMatchObject({ received: 2, redelivered: 1 });
  });

  it('deletes a message only with the receipt handle of its latest receipt', () => {
    const queue = new MessageQueue(settings);
    queue.send('a');
    const [first] = queue.receive(1);
    const firstHandle = first!.receiptHandle!;
    vi.advanceTimersByTime(30_000);
    const [second] = queue.receive(1);

    const withOld = queue.delete(first!.messageId, firstHandle);
    const withLatest = queue.delete(second!.messageId, second!.receiptHandle!);

    expect(withOld).toBe(false);
    expect(withLatest).toBe(true);
    expect(queue.depth).toBe(0);
  });

  it('moves a message received maxReceiveCount times to the dead letters when it comes back once more', () => {
    const queue = new MessageQueue(settings);
    queue.send('poison');

    const receipts = [];
    for (let i = 0; i < 4; i++) {
      receipts.push(queue.receive(1).length);
      vi.advanceTimersByTime(30_000);
    }

    expect(receipts).toEqual([1, 1, 1, 0]);
    expect(queue.deadLetters.map((m) => m.body)).toEqual(['poison']);
    expect(queue.counters.deadLettered).toBe(1);
    expect(queue.depth).toBe(0);
  });

  it('returns at most the number asked for, oldest first', () => {
    const queue = new MessageQueue(settings);
    for (const body of ['a', 'b', 'c']) queue.send(body);

    expect(queue.receive(2).map((m) => m.body)).toEqual(['a', 'b']);
    expect(queue.visibleCount()).toBe(1);
  });

  it('reports the age of the oldest message still queued, in flight or not', () => {
    const queue = new MessageQueue(settings);
    queue.send('a');
    vi.advanceTimersByTime(500);
    queue.send('b');
    queue.receive(1);
    vi.advanceTimersByTime(250);

    expect(queue.oldestAgeMs()).toBe(750);
  });

  it('wakes a waiter when a message is sent, and when a hidden one becomes visible again', async () => {
    const queue = new MessageQueue(settings);
    const woken: string[] = [];
    const stop = new AbortController();

    const onSend = queue.changed(stop.signal).then(() => woken.push('sent'));
    queue.send('a');
    await onSend;
    queue.receive(1);
    const onReturn = queue.changed(stop.signal).then(() => woken.push('visible again'));
    await vi.advanceTimersByTimeAsync(29_999);
    const before = [...woken];
    await vi.advanceTimersByTimeAsync(1);
    await onReturn;

    expect(before).toEqual(['sent']);
    expect(woken).toEqual(['sent', 'visible again']);
  });
});
