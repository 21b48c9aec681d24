import { Logger } from '@aws-lambda-powertools/logger';
import type { PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { failureOfEntry, failureOfRequest } from './bus-failures.js';
import { createMetrics, metricValue } from './metrics.js';
import { MAX_BATCH, Publisher, splitBatchResult, type SendBatch } from './publisher.js';
import { PublishQueue, type PendingEvent, type QueuedEvent } from './queue.js';

const log = new Logger({ logLevel: 'SILENT' });

function pending(key: string): PendingEvent {
  return { key, eventKey: key, entry: { Source: 's', DetailType: 'd', Detail: key } };
}

function queued(key: string): QueuedEvent {
  return { event: pending(key), readyAt: 0, attempt: 0, queuedAt: 0 };
}

describe('splitBatchResult', () => {
  describe('when some entries of a batch failed', () => {
    it('sends again exactly the failed ones and gives up on invalid ones', () => {
      const batch = ['a', 'b', 'c', 'd'].map(queued);
      const results: PutEventsResultEntry[] = [
        { EventId: '1' },
        { ErrorCode: 'InternalFailure', ErrorMessage: 'try again' },
        { ErrorCode: 'MalformedDetail', ErrorMessage: 'bad' },
        { EventId: '4' },
      ];

      const outcome = splitBatchResult(batch, results);

      expect(outcome.published.map((i) => i.event.eventKey)).toEqual(['a', 'd']);
      expect(outcome.retry.map((r) => [r.item.event.eventKey, r.failure.reason])).toEqual([['b', 'entry-failed']]);
      expect(outcome.rejected.map((r) => r.item.event.eventKey)).toEqual(['c']);
    });
  });

  describe('when the answer has fewer entries than the request', () => {
    it('treats the unanswered ones as failed', () => {
      const outcome = splitBatchResult(['a', 'b'].map(queued), [{ EventId: '1' }]);

      expect(outcome.retry.map((r) => r.item.event.eventKey)).toEqual(['b']);
    });
  });
});

describe('failureOfRequest', () => {
  it('tells throttling, server errors, timeouts, network failures and refusals apart', () => {
    const failures = [
      { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } },
      { name: 'InternalException', $metadata: { httpStatusCode: 503 } },
      { name: 'TimeoutError' },
      new Error('connect ECONNREFUSED'),
      { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } },
      { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 400 } },
    ].map(failureOfRequest);

    expect(failures.map((f) => [f.reason, f.kind])).toEqual([
      ['throttled', 'transient'],
      ['server-error', 'transient'],
      ['timeout', 'transient'],
      ['network', 'transient'],
      ['access-denied', 'configuration'],
      ['bus-not-found', 'configuration'],
    ]);
  });
});

describe('failureOfEntry', () => {
  it('keeps entries the bus refused for want of permission, to send once that is fixed', () => {
    const failures = ['NotAuthorizedForSourceException', 'MalformedDetail', 'ThrottlingException', undefined].map(failureOfEntry);

    expect(failures.map((f) => [f.reason, f.kind])).toEqual([
      ['access-denied', 'configuration'],
      ['rejected', 'entry-rejected'],
      ['throttled', 'transient'],
      ['entry-failed', 'transient'],
    ]);
  });
});

type Step = 'ok' | 'throw' | 'fail-first' | 'deny';

/** A sender that fails as `plan` says for each call (then as `rest`), and records what it accepted. */
function scriptedSender(plan: Step[], rest: Step = 'ok') {
  const accepted: string[] = [];
  const batches: string[][] = [];
  let call = 0;
  const send: SendBatch = async (entries) => {
    batches.push(entries.map((entry) => entry.Detail));
    const step = plan[call++] ?? rest;
    if (step === 'throw') throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
    if (step === 'deny') throw Object.assign(new Error('not authorized'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } });
    const results = entries.map((entry, index) => {
      if (step === 'fail-first' && index === 0) return { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' };
      accepted.push(entry.Detail);
      return { EventId: `id-${entry.Detail}` };
    });
    return { Entries: results };
  };
  return { send, accepted, batches };
}

interface PublisherSetup {
  capacity?: number;
  logger?: Logger;
  now?: () => number;
  rate?: { qps: number; burst: number };
  concurrency?: number;
}

function publisherWith(send: SendBatch, { capacity = 100, logger = log, now, rate, concurrency = 2 }: PublisherSetup = {}) {
  const queue = new PublishQueue({ capacity, now });
  const metrics = createMetrics();
  const options = { busName: 'bus', concurrency, backoff: { baseMs: 1, maxMs: 5 }, stuckAfterMs: 1000, now, rate };
  const publisher = new Publisher(queue, send, options, metrics, logger);
  return { queue, metrics, publisher };
}

/** Lets promise callbacks run, without letting any time pass. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

describe('Publisher', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('when idle and a change arrives', () => {
    it('sends it at once, without waiting for any window', async () => {
      vi.useFakeTimers();
      const sender = scriptedSender([]);
      const { queue, publisher } = publisherWith(sender.send);
      const stop = new AbortController();
      const running = publisher.run(stop.signal);
      await settle();

      queue.offer(pending('ns/a'));
      await settle();

      expect(sender.batches).toEqual([['ns/a']]);
      stop.abort();
      await running;
    });
  });

  describe('when every slot is busy', () => {
    it('lets changes of one CR merge in the queue, then sends one event for them', async () => {
      let release!: () => void;
      const sent: string[][] = [];
      const send: SendBatch = async (entries) => {
        sent.push(entries.map((entry) => entry.Detail));
        if (sent.length === 1) await new Promise<void>((resolve) => (release = resolve));
        return { Entries: entries.map((entry) => ({ EventId: entry.Detail })) };
      };
      const { queue, publisher } = publisherWith(send, { concurrency: 1 });
      const stop = new AbortController();
      const running = publisher.run(stop.signal);
      queue.offer(pending('ns/first'));
      await settle();

      for (const change of ['cr', 'deployment', 'service']) queue.offer({ ...pending('ns/b'), entry: { Source: 's', DetailType: 'd', Detail: `b-${change}` } });
      release();
      await vi.waitFor(() => expect(sent).toHaveLength(2));

      expect(sent).toEqual([['ns/first'], ['b-service']]);
      stop.abort();
      await running;
    });
  });

  describe('when many events are queued', () => {
    it('sends them in batches of at most ten', async () => {
      const sender = scriptedSender([]);
      const { queue, publisher } = publisherWith(sender.send);
      for (let i = 0; i < 25; i++) queue.offer(pending(`ns/o${i}`));

      const drained = await publisher.drain(10_000);

      expect(drained).toBe(true);
      expect(sender.accepted).toHaveLength(25);
      expect(Math.max(...sender.batches.map((batch) => batch.length))).toBeLessThanOrEqual(MAX_BATCH);
    });
  });

  describe('with a rate limit', () => {
    it('sends no more events than its tokens allow', async () => {
      vi.useFakeTimers();
      const sender = scriptedSender([]);
      const { queue, publisher } = publisherWith(sender.send, { rate: { qps: 5, burst: 5 } });
      for (let i = 0; i < 12; i++) queue.offer(pending(`ns/o${i}`));
      const stop = new AbortController();
      const running = publisher.run(stop.signal);

      await vi.advanceTimersByTimeAsync(10);
      const atOnce = sender.accepted.length;
      await vi.advanceTimersByTimeAsync(1000);
      const afterASecond = sender.accepted.length;

      expect([atOnce, afterASecond]).toEqual([5, 10]);
      stop.abort();
      await vi.advanceTimersByTimeAsync(1000);
      await running;
    });
  });

  describe('when the bus throttles a request and then fails part of a batch', () => {
    it('sends every event once it recovers and counts the retries', async () => {
      const sender = scriptedSender(['throw', 'fail-first']);
      const { queue, metrics, publisher } = publisherWith(sender.send);
      for (const key of ['a', 'b', 'c']) queue.offer(pending(key));

      await publisher.drain(10_000);

      expect([...sender.accepted].sort()).toEqual(['a', 'b', 'c']);
      expect(await metricValue(metrics.registry, 'forwarder_events_failed_total', { reason: 'throttled' })).toBe(4);
      expect(await metricValue(metrics.registry, 'forwarder_events_retried_total')).toBe(4);
      expect(await metricValue(metrics.registry, 'forwarder_events_published_total')).toBe(3);
    });
  });

  describe('when the bus refuses the forwarder', () => {
    it('logs it once with what to fix, and sends everything once it is fixed', async () => {
      const logger = new Logger({ logLevel: 'SILENT' });
      const error = vi.spyOn(logger, 'error');
      const sender = scriptedSender(['deny', 'deny', 'deny', 'deny']);
      const { queue, publisher } = publisherWith(sender.send, { logger, concurrency: 1 });
      for (const key of ['a', 'b']) queue.offer(pending(key));

      await publisher.drain(10_000);

      expect(error).toHaveBeenCalledTimes(1);
      expect(error.mock.calls[0]![0]).toMatch(/AccessDeniedException.*events:PutEvents/);
      expect([...sender.accepted].sort()).toEqual(['a', 'b']);
    });
  });

  describe('stuck', () => {
    it('is events waiting past the limit with none reaching the bus, not a busy bus', async () => {
      const clock = { now: 0 };
      const sender = scriptedSender([], 'deny');
      const { queue, publisher } = publisherWith(sender.send, { now: () => clock.now });
      queue.offer(pending('a'));
      const stop = new AbortController();
      const running = publisher.run(stop.signal);
      await vi.waitFor(() => expect(sender.batches.length).toBeGreaterThan(0));

      clock.now = 1000;
      const atTheLimit = publisher.stuck();
      clock.now = 1001;
      const pastIt = publisher.stuck();

      expect([atTheLimit, pastIt]).toEqual([false, true]);
      stop.abort();
      await running;
    });
  });

  describe('when logging at debug level', () => {
    it('logs each published event with what it is about and how long it waited', async () => {
      const debugLog = new Logger({ logLevel: 'DEBUG' });
      const debug = vi.spyOn(debugLog, 'debug').mockImplementation(() => undefined);
      const { queue, publisher } = publisherWith(scriptedSender([]).send, { logger: debugLog });
      const subject = { namespace: 'ns', name: 'web', change: 'Deleted', kind: 'Service' };
      queue.offer({ key: 'ns/web', eventKey: 'u/1/Deleted', entry: { Source: 's', DetailType: 'd', Detail: 'x' }, subject });

      await publisher.drain(10_000);

      expect(debug).toHaveBeenCalledWith('published', expect.objectContaining({ eventKey: 'u/1/Deleted', ...subject, queuedMs: expect.any(Number) }));
    });
  });

  describe('when running', () => {
    it('stops when its signal aborts', async () => {
      const { publisher } = publisherWith(scriptedSender([]).send);
      const stop = new AbortController();
      const running = publisher.run(stop.signal);

      stop.abort();

      await expect(running).resolves.toBeUndefined();
    });
  });
});
