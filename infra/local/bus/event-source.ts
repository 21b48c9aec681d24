// Lambda's SQS event source mapping, emulated: up to `maximumConcurrency` invocations at once, each
// with a batch of up to `batchSize` messages (gathered for at most `maximumBatchingWindowMs` when
// the batch is not full), and ReportBatchItemFailures: the messages the function names in
// batchItemFailures stay in the queue and come back after the visibility timeout, the rest are
// deleted; a failed invocation or an answer Lambda would not accept leaves the whole batch there.
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createHash } from 'node:crypto';
import type { MessageQueue, QueuedMessage } from './queue.js';

export interface EventSourceSettings {
  batchSize: number;
  maximumBatchingWindowMs: number;
  maximumConcurrency: number;
}

/** The queue's identity as the records name it. */
export interface QueueIdentity {
  arn: string;
  region: string;
}

/** Runs the function with an event; resolves with its answer, rejects when the invocation failed. */
export type Invoke = (event: SQSEvent) => Promise<unknown>;

export interface EventSourceCounters {
  invocations: number;
  /** Invocations that failed, or answered what Lambda takes as a whole-batch failure. */
  failedInvocations: number;
  /** Messages handed to the function, over all invocations. */
  messagesInvoked: number;
  /** Messages the function reported in batchItemFailures. */
  itemFailures: number;
  inFlight: number;
  maxInFlight: number;
}

export interface InvocationReport {
  messages: number;
  /** How long the oldest message of the batch waited in the queue before this invocation. */
  oldestWaitMs: number;
  durationMs: number;
  /** Messages left in the queue to come back: all of them when the invocation failed. */
  failed: number;
  error?: Error;
}

export class EventSourceMapping {
  readonly counters: EventSourceCounters = { invocations: 0, failedInvocations: 0, messagesInvoked: 0, itemFailures: 0, inFlight: 0, maxInFlight: 0 };
  private readonly stopping = new AbortController();
  private readonly pollers: Promise<void>[];

  constructor(
    private readonly queue: MessageQueue,
    private readonly identity: QueueIdentity,
    private readonly settings: EventSourceSettings,
    private readonly invoke: Invoke,
    private readonly onInvocation: (report: InvocationReport) => void = () => {},
  ) {
    this.pollers = Array.from({ length: settings.maximumConcurrency }, () => this.poll());
  }

  /** Stops polling and waits for the invocations in flight; what they leave stays in the queue. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.pollers);
  }

  private async poll(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      await this.gatherBatch(signal);
      if (signal.aborted) return;
      const batch = this.queue.receive(this.settings.batchSize);
      if (batch.length > 0) await this.deliver(batch);
    }
  }

  /** Waits until a message is visible and, with a batching window, until the batch fills or the window closes. */
  private async gatherBatch(signal: AbortSignal): Promise<void> {
    while (this.queue.visibleCount() === 0 && !signal.aborted) await this.queue.changed(signal);
    if (this.settings.maximumBatchingWindowMs === 0) return;
    const window = new AbortController();
    const timer = setTimeout(() => window.abort(), this.settings.maximumBatchingWindowMs);
    const closed = AbortSignal.any([signal, window.signal]);
    while (this.queue.visibleCount() < this.settings.batchSize && !closed.aborted) await this.queue.changed(closed);
    clearTimeout(timer);
  }

  private async deliver(batch: QueuedMessage[]): Promise<void> {
    const started = Date.now();
    const oldestWaitMs = started - Math.min(...batch.map((message) => message.sentAt));
    this.counters.invocations++;
    this.counters.messagesInvoked += batch.length;
    this.counters.inFlight++;
    this.counters.maxInFlight = Math.max(this.counters.maxInFlight, this.counters.inFlight);
    let failing: Set<string>;
    let error: Error | undefined;
    try {
      failing = failedItems(await this.invoke({ Records: batch.map((message) => this.record(message)) }), batch);
      this.counters.itemFailures += failing.size;
    } catch (cause) {
      error = cause instanceof Error ? cause : new Error('the invocation failed', { cause });
      failing = new Set(batch.map((message) => message.messageId));
      this.counters.failedInvocations++;
    } finally {
      this.counters.inFlight--;
    }
    for (const message of batch) if (!failing.has(message.messageId)) this.queue.delete(message.messageId, message.receiptHandle!);
    this.onInvocation({ messages: batch.length, oldestWaitMs, durationMs: Date.now() - started, failed: failing.size, error });
  }

  private record(message: QueuedMessage): SQSRecord {
    return {
      messageId: message.messageId,
      receiptHandle: message.receiptHandle!,
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receiveCount),
        SentTimestamp: String(message.sentAt),
        SenderId: 'AROAEVENTBRIDGELOCAL',
        ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt),
      },
      messageAttributes: {},
      md5OfBody: createHash('md5').update(message.body).digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: this.identity.arn,
      awsRegion: this.identity.region,
    };
  }
}

/** A whole-batch failure that Lambda reads from an answer it cannot accept. */
export class InvalidBatchResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidBatchResponseError';
  }
}

/**
 * The message ids an answer names as failed. As Lambda reads it: no answer, or no or an empty
 * batchItemFailures, is success; an item naming no message of the batch fails the whole batch.
 */
export function failedItems(answer: unknown, batch: QueuedMessage[]): Set<string> {
  const failures = (answer as SQSBatchResponse | null | undefined)?.batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) throw new InvalidBatchResponseError('batchItemFailures is not a list');
  const ids = new Set(batch.map((message) => message.messageId));
  return new Set(
    failures.map((failure: { itemIdentifier?: unknown }) => {
      const id = failure?.itemIdentifier;
      if (typeof id !== 'string' || !ids.has(id)) throw new InvalidBatchResponseError(`batchItemFailures names ${JSON.stringify(id)}, not a message of the batch`);
      return id;
    }),
  );
}
