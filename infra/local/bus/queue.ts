// An in-memory SQS standard queue with the semantics the reconcile event source relies on: a
// received message is invisible for `visibilityTimeoutMs` and comes back unless it is deleted with
// its latest receipt handle; a message received `maxReceiveCount` times that comes back once more
// goes to the dead-letter list instead. Time is Date.now and setTimeout, so tests can fake it.
import { randomUUID } from 'node:crypto';

export interface QueueSettings {
  visibilityTimeoutMs: number;
  maxReceiveCount: number;
}

export interface QueuedMessage {
  readonly messageId: string;
  readonly body: string;
  readonly sentAt: number;
  /** Times received, this receipt included. */
  receiveCount: number;
  firstReceivedAt?: number;
  /** The handle of the latest receipt; earlier ones no longer delete it. */
  receiptHandle?: string;
  visibleAt: number;
}

export interface QueueCounters {
  sent: number;
  received: number;
  /** Receipts of a message received before: its earlier receipt failed or timed out. */
  redelivered: number;
  deleted: number;
  deadLettered: number;
}

export class MessageQueue {
  private readonly messages = new Map<string, QueuedMessage>();
  private readonly waiters = new Set<() => void>();
  private wakeTimer?: NodeJS.Timeout;
  readonly deadLetters: QueuedMessage[] = [];
  readonly counters: QueueCounters = { sent: 0, received: 0, redelivered: 0, deleted: 0, deadLettered: 0 };

  constructor(private readonly settings: QueueSettings) {}

  send(body: string): QueuedMessage {
    const now = Date.now();
    const message: QueuedMessage = { messageId: randomUUID(), body, sentAt: now, receiveCount: 0, visibleAt: now };
    this.messages.set(message.messageId, message);
    this.counters.sent++;
    this.wake();
    return message;
  }

  /** Up to `max` visible messages, oldest first, each now invisible for the visibility timeout. */
  receive(max: number): QueuedMessage[] {
    const now = Date.now();
    const received: QueuedMessage[] = [];
    for (const message of this.messages.values()) {
      if (received.length === max) break;
      if (message.visibleAt > now) continue;
      if (message.receiveCount >= this.settings.maxReceiveCount) {
        this.messages.delete(message.messageId);
        this.deadLetters.push(message);
        this.counters.deadLettered++;
        continue;
      }
      message.receiveCount++;
      message.firstReceivedAt ??= now;
      message.receiptHandle = randomUUID();
      message.visibleAt = now + this.settings.visibilityTimeoutMs;
      this.counters.received++;
      if (message.receiveCount > 1) this.counters.redelivered++;
      received.push(message);
    }
    this.scheduleWake();
    return received;
  }

  /** Deletes a message by its latest receipt handle; false for an unknown or outdated handle. */
  delete(messageId: string, receiptHandle: string): boolean {
    const message = this.messages.get(messageId);
    if (!message || message.receiptHandle !== receiptHandle) return false;
    this.messages.delete(messageId);
    this.counters.deleted++;
    return true;
  }

  /** Resolves at the next change that may make a message visible (one sent, or one back from its timeout), or when `signal` aborts. */
  changed(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal.addEventListener('abort', done);
      this.scheduleWake();
    });
  }

  /** Messages that a receive would return now. */
  visibleCount(): number {
    const now = Date.now();
    let count = 0;
    for (const message of this.messages.values()) if (message.visibleAt <= now) count++;
    return count;
  }

  /** Messages not yet deleted or dead-lettered, visible or not. */
  get depth(): number {
    return this.messages.size;
  }

  /** How long the oldest message still in the queue has been there. */
  oldestAgeMs(): number {
    let oldest = Infinity;
    for (const message of this.messages.values()) oldest = Math.min(oldest, message.sentAt);
    return oldest === Infinity ? 0 : Date.now() - oldest;
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** While someone waits, a timer for the moment the next invisible message becomes visible again. */
  private scheduleWake(): void {
    clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    if (this.waiters.size === 0) return;
    const now = Date.now();
    let next = Infinity;
    for (const message of this.messages.values()) if (message.visibleAt > now) next = Math.min(next, message.visibleAt);
    if (next === Infinity) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.wake();
      this.scheduleWake();
    }, next - now);
    this.wakeTimer.unref();
  }
}
