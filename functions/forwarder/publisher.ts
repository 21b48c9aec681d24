// Sends queued events to the bus: batches of at most 10 (the PutEvents limit), several batches
// in flight, exactly the failed entries of a partial failure sent again after a backoff.
import { PutEventsCommand, type EventBridgeClient, type PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import type { Logger } from '@aws-lambda-powertools/logger';
import { backoffDelay, sleep, type BackoffPolicy } from './backoff.js';
import type { ForwarderMetrics } from './metrics.js';
import type { BusEntry, PublishQueue, QueuedEvent } from './queue.js';

/** PutEvents takes at most 10 entries per request. */
export const MAX_BATCH = 10;

/** Entry error codes that no retry can fix: the entry itself is wrong. */
const REJECTED_CODES = new Set(['InvalidArgument', 'MalformedDetail', 'ValidationException']);

export type SendBatch = (entries: Array<BusEntry & { EventBusName: string }>) => Promise<{ Entries?: PutEventsResultEntry[] }>;

/** Sends with the real client; a request unanswered after `timeoutMs` is abandoned and retried. */
export function eventBridgeSender(client: EventBridgeClient, timeoutMs: number): SendBatch {
  return (entries) => client.send(new PutEventsCommand({ Entries: entries }), { abortSignal: AbortSignal.timeout(timeoutMs) });
}

export interface BatchOutcome {
  published: QueuedEvent[];
  retry: Array<{ item: QueuedEvent; reason: string }>;
  rejected: Array<{ item: QueuedEvent; reason: string }>;
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
    if (result?.EventId && !result.ErrorCode) outcome.published.push(item);
    else if (result?.ErrorCode && REJECTED_CODES.has(result.ErrorCode)) outcome.rejected.push({ item, reason: result.ErrorCode });
    else outcome.retry.push({ item, reason: result?.ErrorCode ?? 'NoResult' });
  });
  return outcome;
}

/** A metric label for a failed request: throttled, a server error, no answer in time, or none at all. */
export function requestFailureReason(error: unknown): string {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timeout';
  if (e.name === 'ThrottlingException' || e.$metadata?.httpStatusCode === 429) return 'throttled';
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 ? 'server-error' : `http-${status}`;
  return 'network';
}

export interface PublisherOptions {
  busName: string;
  concurrency: number;
  backoff: BackoffPolicy;
}

export class Publisher {
  private active = 0;
  private flush = false;

  constructor(
    private readonly queue: PublishQueue,
    private readonly send: SendBatch,
    private readonly options: PublisherOptions,
    private readonly metrics: ForwarderMetrics,
    private readonly log: Logger,
  ) {}

  /** Sends until `signal` aborts; after that, only what `drain` asks for. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      this.startBatches();
      const next = this.queue.nextReadyAt(this.flush);
      const wait = next === undefined ? 60_000 : Math.max(1, next - Date.now());
      await Promise.race([this.queue.changed(signal), sleep(wait, signal)]);
    }
  }

  /** Sends everything queued without waiting for coalescing; resolves when empty or at the deadline. */
  async drain(timeoutMs: number): Promise<boolean> {
    this.flush = true;
    const deadline = Date.now() + timeoutMs;
    while (this.queue.depth > 0 && Date.now() < deadline) {
      this.startBatches();
      const next = this.queue.nextReadyAt(true) ?? deadline;
      await Promise.race([this.queue.changed(), sleep(Math.max(1, Math.min(next, deadline) - Date.now()))]);
    }
    return this.queue.depth === 0;
  }

  private startBatches(): void {
    while (this.active < this.options.concurrency) {
      const batch = this.queue.take(MAX_BATCH, this.flush);
      if (batch.length === 0) break;
      this.active += 1;
      void this.sendBatch(batch).finally(() => {
        this.active -= 1;
        this.metrics.queueDepth.set(this.queue.depth);
      });
    }
    this.metrics.queueDepth.set(this.queue.depth);
  }

  private async sendBatch(batch: QueuedEvent[]): Promise<void> {
    let results: PutEventsResultEntry[] | undefined;
    try {
      results = (await this.send(batch.map((item) => ({ ...item.event.entry, EventBusName: this.options.busName })))).Entries;
    } catch (error) {
      const reason = requestFailureReason(error);
      this.log.warn('PutEvents failed; the batch will be sent again', { reason, entries: batch.length, error: String(error) });
      for (const item of batch) this.retry(item, reason);
      return;
    }
    const outcome = splitBatchResult(batch, results);
    this.metrics.published.inc(outcome.published.length);
    this.queue.done(outcome.published.length);
    if (this.log.getLevelName() === 'DEBUG') {
      const now = Date.now();
      for (const item of outcome.published) this.log.debug('published', { eventKey: item.event.eventKey, ...item.event.subject, queuedMs: now - item.queuedAt });
    }
    for (const { item, reason } of outcome.rejected) {
      this.log.error('the bus rejected an event; it cannot be sent', { reason, eventKey: item.event.eventKey });
      this.metrics.failed.inc({ reason: 'rejected' });
      this.queue.done();
    }
    if (outcome.retry.length > 0) this.log.warn('PutEvents partly failed; sending the failed entries again', { failed: outcome.retry.length, of: batch.length });
    for (const { item, reason } of outcome.retry) this.retry(item, reason === 'ThrottlingException' ? 'throttled' : 'entry-failed');
  }

  private retry(item: QueuedEvent, reason: string): void {
    this.metrics.failed.inc({ reason });
    if (this.queue.retry(item, backoffDelay(item.attempt, this.options.backoff))) this.metrics.retried.inc();
    else this.metrics.coalesced.inc();
  }
}
