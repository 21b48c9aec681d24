// Sends queued events to the bus as soon as it has room: batches of at most 10 (the PutEvents
// limit) of whatever is ready, several batches in flight, exactly the failed entries of a partial
// failure sent again after a backoff. An idle forwarder sends a change at once; a busy one lets
// changes wait, and so merge, in the queue. It tells "cannot publish" from "busy": see `stuckFor`.
import { PutEventsCommand, type EventBridgeClient, type PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import type { Logger } from '@aws-lambda-powertools/logger';
import { backoffDelay, sleep, type BackoffPolicy } from '../core/backoff.js';
import { RateLimiter, type RateLimit } from '../core/rate-limiter.js';
import { failureOfEntry, failureOfRequest, type PublishFailure } from './bus-failures.js';
import type { ForwarderMetrics } from './metrics.js';
import type { BusEntry, PublishQueue, QueuedEvent } from './queue.js';

/** PutEvents takes at most 10 entries per request. */
export const MAX_BATCH = 10;

export type SendBatch = (entries: Array<BusEntry & { EventBusName: string }>) => Promise<{ Entries?: PutEventsResultEntry[] }>;

/** Sends with the real client; a request unanswered after `timeoutMs` is abandoned and retried. */
export function eventBridgeSender(client: EventBridgeClient, timeoutMs: number): SendBatch {
  return (entries) => client.send(new PutEventsCommand({ Entries: entries }), { abortSignal: AbortSignal.timeout(timeoutMs) });
}

export interface BatchOutcome {
  published: QueuedEvent[];
  retry: Array<{ item: QueuedEvent; failure: PublishFailure }>;
  rejected: Array<{ item: QueuedEvent; failure: PublishFailure }>;
}

/**
 * Splits a PutEvents answer into what reached the bus, what to send again and what to give up.
 * Result entries match request entries by position; one with neither an EventId nor an error
 * code (a short answer) is treated as failed, since nothing says it arrived.
 */
export function splitBatchResult(batch: QueuedEvent[], results: PutEventsResultEntry[] = []): BatchOutcome {
  const outcome: BatchOutcome = { published: [], retry: [], rejected: [] };
  batch.forEach((item, index) => {
    const result = results[index];
    if (result?.EventId && !result.ErrorCode) return outcome.published.push(item);
    const failure = failureOfEntry(result?.ErrorCode);
    (failure.kind === 'entry-rejected' ? outcome.rejected : outcome.retry).push({ item, failure });
  });
  return outcome;
}

export interface PublisherOptions {
  busName: string;
  concurrency: number;
  backoff: BackoffPolicy;
  /** Events a second at most, and at most `burst` at once, when set: under a burst, events wait (and merge) here rather than downstream. */
  rate?: RateLimit;
  /** Events waiting this long with none reaching the bus: stuck. */
  stuckAfterMs: number;
  now?: () => number;
}

export class Publisher {
  private active = 0;
  /** When an event last reached the bus. */
  private lastSuccessAt = 0;
  /** The configuration problem already logged, until the bus accepts events again. */
  private reported: PublishFailure | undefined;
  private readonly now: () => number;
  private readonly limiter?: RateLimiter;
  /** A batch never waits for more tokens than the bucket holds. */
  private readonly maxBatch: number;

  constructor(
    private readonly queue: PublishQueue,
    private readonly send: SendBatch,
    private readonly options: PublisherOptions,
    private readonly metrics: ForwarderMetrics,
    private readonly log: Logger,
  ) {
    this.now = options.now ?? Date.now;
    this.limiter = options.rate && new RateLimiter(options.rate.qps, options.rate.burst);
    this.maxBatch = Math.min(MAX_BATCH, options.rate?.burst ?? MAX_BATCH);
  }

  /** Sends until `signal` aborts; after that, only what `drain` asks for. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.startBatches(signal);
      await this.waitForWork(signal);
    }
  }

  /** Sends everything queued; resolves true when empty, false at the deadline. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = AbortSignal.timeout(timeoutMs);
    while (this.queue.depth > 0 && !deadline.aborted) {
      await this.startBatches(deadline);
      await this.waitForWork(deadline);
    }
    return this.queue.depth === 0;
  }

  /** How long events have waited with none reaching the bus (0 when none wait). */
  stuckFor(): number {
    const since = this.queue.waitingSince;
    return since === undefined ? 0 : this.now() - Math.max(since, this.lastSuccessAt);
  }

  /** Cannot publish, as opposed to busy: events have waited too long with none reaching the bus. */
  stuck(): boolean {
    return this.stuckFor() > this.options.stuckAfterMs;
  }

  /** Until a slot frees, an event arrives or a backoff ends. */
  private async waitForWork(signal: AbortSignal): Promise<void> {
    const next = this.active < this.options.concurrency ? this.queue.nextReadyAt() : undefined;
    // Something became ready since the batches were started: no pause at all.
    if (next !== undefined && next <= this.now()) return;
    const changed = this.queue.changed(signal);
    if (next === undefined) return changed;
    const pause = new AbortController();
    await Promise.race([changed, sleep(next - this.now(), AbortSignal.any([signal, pause.signal]))]);
    pause.abort();
  }

  /** Fills every free slot with a batch of what is ready now, as the rate limit allows. */
  private async startBatches(signal: AbortSignal): Promise<void> {
    while (this.active < this.options.concurrency && !signal.aborted) {
      const size = Math.min(this.maxBatch, this.queue.readyCount());
      if (size === 0) break;
      // Tokens first, then the batch: while waiting for them, events stay queued and keep merging.
      if (this.limiter) for (let i = 0; i < size; i++) await this.limiter.acquire();
      const batch = this.queue.take(size);
      if (batch.length === 0) break;
      this.active += 1;
      void this.sendBatch(batch);
    }
    this.metrics.queueDepth.set(this.queue.depth);
  }

  /** Sends one batch and settles it in the queue; never rejects. The slot is free before the queue wakes anyone. */
  private async sendBatch(batch: QueuedEvent[]): Promise<void> {
    const sent = await this.send(batch.map((item) => ({ ...item.event.entry, EventBusName: this.options.busName }))).then(
      (answer) => ({ results: answer.Entries }),
      (error: unknown) => ({ error }),
    );
    this.active -= 1;
    if ('error' in sent) this.failed(batch, sent.error);
    else this.settle(batch, splitBatchResult(batch, sent.results));
    this.metrics.queueDepth.set(this.queue.depth);
  }

  private failed(batch: QueuedEvent[], error: unknown): void {
    const failure = failureOfRequest(error);
    this.report(failure, error);
    if (!failure.fix) this.log.warn('PutEvents failed; the batch will be sent again', { reason: failure.reason, entries: batch.length, error });
    for (const item of batch) this.retry(item, failure);
  }

  private settle(batch: QueuedEvent[], outcome: BatchOutcome): void {
    if (outcome.published.length > 0) this.succeeded(outcome.published);
    for (const { item, failure } of outcome.rejected) {
      this.log.error('the bus rejected an event; it cannot be sent', { reason: failure.code, eventKey: item.event.eventKey });
      this.metrics.failed.inc({ reason: failure.reason });
    }
    this.queue.done(outcome.published.concat(outcome.rejected.map(({ item }) => item)));
    if (outcome.retry.length === 0) return;
    this.report(outcome.retry[0]!.failure);
    this.log.warn('PutEvents partly failed; sending the failed entries again', { failed: outcome.retry.length, of: batch.length, reason: outcome.retry[0]!.failure.reason });
    for (const { item, failure } of outcome.retry) this.retry(item, failure);
  }

  private succeeded(published: QueuedEvent[]): void {
    this.lastSuccessAt = this.now();
    this.metrics.published.inc(published.length);
    if (this.reported) this.log.info('the bus accepts events again', { after: this.reported.code });
    this.reported = undefined;
    if (this.log.getLevelName() !== 'DEBUG') return;
    for (const item of published) this.log.debug('published', { eventKey: item.event.eventKey, ...item.event.subject, queuedMs: this.lastSuccessAt - item.queuedAt });
  }

  /** A failure that only a change of configuration cures is logged once, with what to fix. */
  private report(failure: PublishFailure, error?: unknown): void {
    if (!failure.fix || this.reported?.code === failure.code) return;
    this.reported = failure;
    this.log.error(`the bus refuses every event (${failure.code}); events wait in the queue until this is fixed: ${failure.fix}`, {
      reason: failure.reason,
      code: failure.code,
      bus: this.options.busName,
      ...(error === undefined ? {} : { error }),
    });
  }

  private retry(item: QueuedEvent, failure: PublishFailure): void {
    this.metrics.failed.inc({ reason: failure.reason });
    if (this.queue.retry(item, backoffDelay(item.attempt, this.options.backoff))) this.metrics.retried.inc();
    else this.metrics.coalesced.inc();
  }
}
