import type { SQSEvent } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventSourceMapping, type EventSourceSettings, type Invoke } from './event-source.js';
import { MessageQueue } from './queue.js';

const identity = { arn: 'arn:aws:sqs:us-east-1:000000000000:reconcile', region: 'us-east-1' };
const queueSettings = { visibilityTimeoutMs: 60_000, maxReceiveCount: 5 };

let mapping: EventSourceMapping | undefined;

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(async () => {
  // Invocations still in flight finish in fake time.
  const stopped = mapping?.stop();
  await vi.runAllTimersAsync();
  await stopped;
  mapping = undefined;
  vi.useRealTimers();
});

/** A function that takes `ms` of (fake) time per invocation and answers what `answer` says. */
function stubFunction(ms: number, answer: (event: SQSEvent) => unknown = () => undefined) {
  const events: SQSEvent[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const invoke: Invoke = async (event) => {
    events.push(event);
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    await new Promise((r) => setTimeout(r, ms));
    inFlight--;
    const result = answer(event);
    if (result instanceof Error) throw result;
    return result;
  };
  return { invoke, events, maxInFlight: () => maxInFlight };
}

function start(queue: MessageQueue, invoke: Invoke, settings: Partial<EventSourceSettings> = {}): EventSourceMapping {
  mapping = new EventSourceMapping(queue, identity, { batchSize: 10, maximumBatchingWindowMs: 0, maximumConcurrency: 2, ...settings }, invoke);
  return mapping;
}

const bodies = (event: SQSEvent) => event.Records.map((record) => record.body);

describe('EventSourceMapping', () => {
  it('hands the messages waiting in the queue to the function in batches of at most batchSize', async () => {
    const queue = new MessageQueue(queueSettings);
    for (let i = 0; i < 25; i++) queue.send(`m${i}`);
    const fn = stubFunction(100);

    start(queue, fn.invoke, { batchSize: 10, maximumConcurrency: 1 });
    await vi.advanceTimersByTimeAsync(1_000);

    expect(fn.events.map((e) => e.Records.length)).toEqual([10, 10, 5]);
    expect(queue.depth).toBe(0);
  });

  it('never runs more than maximumConcurrency invocations at once', async () => {
    const queue = new MessageQueue(queueSettings);
    const fn = stubFunction(1_000);
    const source = start(queue, fn.invoke, { batchSize: 1, maximumConcurrency: 3 });

    for (let i = 0; i < 12; i++) queue.send(`m${i}`);
    await vi.advanceTimersByTimeAsync(1_500);
    const afterOneRound = fn.events.length;
    await vi.advanceTimersByTimeAsync(10_000);

    expect(afterOneRound).toBe(6);
    expect(fn.events).toHaveLength(12);
    expect(fn.maxInFlight()).toBe(3);
    expect(source.counters.maxInFlight).toBe(3);
  });

  it('invokes as soon as a message arrives when the batching window is 0', async () => {
    const queue = new MessageQueue(queueSettings);
    const fn = stubFunction(10);
    start(queue, fn.invoke);
    await vi.advanceTimersByTimeAsync(5_000);

    queue.send('late');
    await vi.advanceTimersByTimeAsync(0);

    expect(fn.events.map(bodies)).toEqual([['late']]);
  });

  it('waits up to the batching window to fill a batch', async () => {
    const queue = new MessageQueue(queueSettings);
    const fn = stubFunction(10);
    start(queue, fn.invoke, { batchSize: 3, maximumBatchingWindowMs: 1_000, maximumConcurrency: 1 });

    queue.send('a');
    await vi.advanceTimersByTimeAsync(400);
    queue.send('b');
    await vi.advanceTimersByTimeAsync(400);
    const beforeWindowCloses = fn.events.length;
    await vi.advanceTimersByTimeAsync(200);

    expect(beforeWindowCloses).toBe(0);
    expect(fn.events.map(bodies)).toEqual([['a', 'b']]);
  });

  it('invokes before the window closes once the batch is full', async () => {
    const queue = new MessageQueue(queueSettings);
    const fn = stubFunction(10);
    start(queue, fn.invoke, { batchSize: 2, maximumBatchingWindowMs: 10_000, maximumConcurrency: 1 });

    queue.send('a');
    await vi.advanceTimersByTimeAsync(100);
    queue.send('b');
    await vi.advanceTimersByTimeAsync(0);

    expect(fn.events.map(bodies)).toEqual([['a', 'b']]);
  });

  it('deletes what succeeded and leaves the reported batch item failures to come back after the visibility timeout', async () => {
    const queue = new MessageQueue(queueSettings);
    let calls = 0;
    const fn = stubFunction(10, (event) => {
      calls++;
      const failing = calls === 1 ? event.Records.filter((r) => r.body === 'b') : [];
      return { batchItemFailures: failing.map((r) => ({ itemIdentifier: r.messageId })) };
    });
    for (const body of ['a', 'b', 'c']) queue.send(body);
    const source = start(queue, fn.invoke);

    await vi.advanceTimersByTimeAsync(59_000);
    const beforeTimeout = fn.events.map(bodies);
    await vi.advanceTimersByTimeAsync(2_000);

    expect(beforeTimeout).toEqual([['a', 'b', 'c']]);
    expect(fn.events.map(bodies)).toEqual([['a', 'b', 'c'], ['b']]);
    expect(fn.events[1]!.Records[0]!.attributes.ApproximateReceiveCount).toBe('2');
    expect(queue.depth).toBe(0);
    expect(source.counters).toMatchObject({ invocations: 2, itemFailures: 1, failedInvocations: 0 });
  });

  it('leaves the whole batch in the queue when the invocation fails', async () => {
    const queue = new MessageQueue(queueSettings);
    let calls = 0;
    const fn = stubFunction(10, () => (++calls === 1 ? new Error('function crashed') : undefined));
    for (const body of ['a', 'b']) queue.send(body);
    const source = start(queue, fn.invoke);

    await vi.advanceTimersByTimeAsync(61_000);

    expect(fn.events.map(bodies)).toEqual([['a', 'b'], ['a', 'b']]);
    expect(source.counters.failedInvocations).toBe(1);
    expect(queue.counters.redelivered).toBe(2);
    expect(queue.depth).toBe(0);
  });

  it('takes an answer naming a message outside the batch as a failure of the whole batch', async () => {
    const queue = new MessageQueue(queueSettings);
    const fn = stubFunction(10, () => ({ batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] }));
    queue.send('a');
    const source = start(queue, fn.invoke, { maximumConcurrency: 1 });

    await vi.advanceTimersByTimeAsync(1_000);

    expect(source.counters.failedInvocations).toBe(1);
    expect(queue.depth).toBe(1);
  });

  it('dead-letters a message that fails on every one of maxReceiveCount receipts', async () => {
    const queue = new MessageQueue({ visibilityTimeoutMs: 1_000, maxReceiveCount: 3 });
    const fn = stubFunction(10, (event) => ({ batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) }));
    queue.send('poison');
    start(queue, fn.invoke);

    await vi.advanceTimersByTimeAsync(10_000);

    expect(fn.events).toHaveLength(3);
    expect(queue.deadLetters.map((m) => m.body)).toEqual(['poison']);
  });

  it('builds records as SQS hands them to Lambda', async () => {
    const queue = new MessageQueue(queueSettings);
    const fn = stubFunction(10);
    const sent = queue.send('{"detail":{}}');
    start(queue, fn.invoke);

    await vi.advanceTimersByTimeAsync(100);

    expect(fn.events[0]!.Records[0]).toEqual({
      messageId: sent.messageId,
      receiptHandle: expect.any(String),
      body: '{"detail":{}}',
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(sent.sentAt), SenderId: expect.any(String), ApproximateFirstReceiveTimestamp: String(sent.sentAt) },
      messageAttributes: {},
      md5OfBody: '4d825f0935d38a85995d821c6902df72',
      eventSource: 'aws:sqs',
      eventSourceARN: identity.arn,
      awsRegion: 'us-east-1',
    });
  });
});
