import { Logger } from '@aws-lambda-powertools/logger';
import type { PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import { describe, expect, it, vi } from 'vitest';
import { createMetrics, metricValue } from './metrics.js';
import { MAX_BATCH, Publisher, requestFailureReason, splitBatchResult, type SendBatch } from './publisher.js';
import { PublishQueue, type QueuedEvent } from './queue.js';

const log = new Logger({ logLevel: 'SILENT' });

function queued(key: string): QueuedEvent {
  return { event: { objectKey: key, eventKey: key, entry: { Source: 's', DetailType: 'd', Detail: key } }, seq: 0, readyAt: 0, attempt: 0, queuedAt: 0 };
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
      expect(outcome.retry.map((r) => [r.item.event.eventKey, r.reason])).toEqual([['b', 'InternalFailure']]);
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

describe('requestFailureReason', () => {
  it('tells throttling, server errors, timeouts and network failures apart', () => {
    const reasons = [
      { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } },
      { name: 'InternalException', $metadata: { httpStatusCode: 503 } },
      { name: 'TimeoutError' },
      new Error('connect ECONNREFUSED'),
    ].map(requestFailureReason);

    expect(reasons).toEqual(['throttled', 'server-error', 'timeout', 'network']);
  });
});

/** A sender that fails as `plan` says for each call, and records what it accepted. */
function scriptedSender(plan: Array<'ok' | 'throw' | 'fail-first'>) {
  const accepted: string[] = [];
  const batchSizes: number[] = [];
  let call = 0;
  const send: SendBatch = async (entries) => {
    batchSizes.push(entries.length);
    const step = plan[call++] ?? 'ok';
    if (step === 'throw') throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
    const results = entries.map((entry, index) => {
      if (step === 'fail-first' && index === 0) return { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' };
      accepted.push(entry.Detail);
      return { EventId: `id-${entry.Detail}` };
    });
    return { Entries: results };
  };
  return { send, accepted, batchSizes };
}

function publisherWith(send: SendBatch, capacity = 100, logger = log) {
  const queue = new PublishQueue({ capacity, coalesceMs: 0 });
  const metrics = createMetrics();
  const publisher = new Publisher(queue, send, { busName: 'bus', concurrency: 2, backoff: { baseMs: 1, maxMs: 5 } }, metrics, logger);
  return { queue, metrics, publisher };
}

describe('Publisher', () => {
  describe('when many events are queued', () => {
    it('sends them in batches of at most ten', async () => {
      const sender = scriptedSender([]);
      const { queue, publisher } = publisherWith(sender.send);
      for (let i = 0; i < 25; i++) queue.offer({ objectKey: `o${i}`, eventKey: `o${i}`, entry: { Source: 's', DetailType: 'd', Detail: `o${i}` } });

      const drained = await publisher.drain(10_000);

      expect(drained).toBe(true);
      expect(sender.accepted).toHaveLength(25);
      expect(Math.max(...sender.batchSizes)).toBeLessThanOrEqual(MAX_BATCH);
    });
  });

  describe('when the bus throttles a request and then fails part of a batch', () => {
    it('sends every event once it recovers and counts the retries', async () => {
      const sender = scriptedSender(['throw', 'fail-first']);
      const { queue, metrics, publisher } = publisherWith(sender.send);
      for (const key of ['a', 'b', 'c']) queue.offer({ objectKey: key, eventKey: key, entry: { Source: 's', DetailType: 'd', Detail: key } });

      await publisher.drain(10_000);

      expect([...sender.accepted].sort()).toEqual(['a', 'b', 'c']);
      expect(await metricValue(metrics.registry, 'forwarder_events_failed_total', { reason: 'throttled' })).toBe(4);
      expect(await metricValue(metrics.registry, 'forwarder_events_retried_total')).toBe(4);
      expect(await metricValue(metrics.registry, 'forwarder_events_published_total')).toBe(3);
    });
  });

  describe('when logging at debug level', () => {
    it('logs each published event with what it is about and how long it waited', async () => {
      const debugLog = new Logger({ logLevel: 'DEBUG' });
      const debug = vi.spyOn(debugLog, 'debug').mockImplementation(() => undefined);
      const { queue, publisher } = publisherWith(scriptedSender([]).send, 100, debugLog);
      const subject = { namespace: 'ns', name: 'web', change: 'Deleted', kind: 'Service' };
      queue.offer({ objectKey: 'Service/ns/web', eventKey: 'u/1/Deleted', entry: { Source: 's', DetailType: 'd', Detail: 'x' }, subject });

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
