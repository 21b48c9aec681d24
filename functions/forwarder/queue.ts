// The bounded work queue between the watches and the publisher, keyed by the CR to reconcile, as a
// controller's work queue is (client-go's dirty and processing sets are the model): any number of
// changes to a CR and its children while it waits make one event, carrying the latest change
// (consumers re-read the CR). A change that arrives while its CR's event is in flight waits and is
// sent after it, so nothing is lost. Failed events wait out their backoff apart. Everything not yet
// on the bus counts towards the bound, so memory stays flat whatever the bus does.

/** The PutEvents entry fields the contract's helpers build; the publisher adds the bus name. */
export interface BusEntry {
  Source: string;
  DetailType: string;
  Detail: string;
}

export interface PendingEvent {
  /** The CR it asks to reconcile (`namespace/name`): a newer event for it replaces an older one. */
  key: string;
  /** The contract's eventKey: stable per object version and change. */
  eventKey: string;
  entry: BusEntry;
  /** What it is about, for logs only. */
  subject?: { namespace: string; name: string; change: string; kind?: string };
}

export interface QueuedEvent {
  event: PendingEvent;
  /** When it may be taken: at once, or when its backoff ends. */
  readyAt: number;
  /** How many times its key has failed in a row. */
  attempt: number;
  /** When its key's first waiting change arrived. */
  queuedAt: number;
}

export type OfferResult = 'queued' | 'coalesced' | 'full';

export interface QueueOptions {
  capacity: number;
  now?: () => number;
}

export class PublishQueue {
  /** Ready to send, in order of arrival; an entry keeps its place when a newer change replaces it. */
  private readonly ready = new Map<string, QueuedEvent>();
  /** Failed, waiting for their backoff to end. */
  private readonly backingOff = new Map<string, QueuedEvent>();
  /** Being sent. */
  private readonly inFlight = new Map<string, QueuedEvent>();
  /** Changed while being sent: sent again once the one in flight is done. */
  private readonly dirty = new Map<string, QueuedEvent>();
  private waiters: Array<() => void> = [];
  private readonly now: () => number;
  /** The largest depth seen, for tests and the benchmark. */
  highWater = 0;
  /** Since when events have been waiting without a break (the queue last went from empty to not). */
  waitingSince: number | undefined;

  constructor(private readonly options: QueueOptions) {
    this.now = options.now ?? Date.now;
  }

  get capacity(): number {
    return this.options.capacity;
  }

  /** Ready, backing off, in flight and changed in flight: everything not yet on the bus. */
  get depth(): number {
    return this.ready.size + this.backingOff.size + this.inFlight.size + this.dirty.size;
  }

  /** Queues the event, or merges it into the one waiting for the same CR; refuses when full. */
  offer(event: PendingEvent): OfferResult {
    const { key } = event;
    const waiting = this.ready.get(key) ?? this.backingOff.get(key) ?? this.dirty.get(key);
    if (waiting) {
      waiting.event = event;
      return 'coalesced';
    }
    if (this.depth >= this.options.capacity) return 'full';
    const now = this.now();
    if (this.depth === 0) this.waitingSince = now;
    (this.inFlight.has(key) ? this.dirty : this.ready).set(key, { event, readyAt: now, attempt: 0, queuedAt: now });
    this.highWater = Math.max(this.highWater, this.depth);
    this.notify();
    return 'queued';
  }

  /** Queues the event, waiting for room first when the queue is full. */
  async put(event: PendingEvent, signal?: AbortSignal): Promise<OfferResult> {
    for (;;) {
      const result = this.offer(event);
      if (result !== 'full' || signal?.aborted) return result;
      await this.changed(signal);
    }
  }

  /** Resolves once the queue is below `fraction` of its capacity. */
  async waitForRoom(fraction: number, signal?: AbortSignal): Promise<void> {
    while (this.depth >= this.options.capacity * fraction && !signal?.aborted) await this.changed(signal);
  }

  /** How many events could be taken now. */
  readyCount(): number {
    let due = this.ready.size;
    const now = this.now();
    for (const item of this.backingOff.values()) if (item.readyAt <= now) due += 1;
    return due;
  }

  /** Takes up to `max` events whose time has come, retries first; they are in flight until done or retried. */
  take(max: number): QueuedEvent[] {
    const now = this.now();
    const batch: QueuedEvent[] = [];
    for (const [key, item] of this.backingOff) {
      if (batch.length >= max) break;
      if (item.readyAt > now) continue;
      this.backingOff.delete(key);
      batch.push(item);
    }
    for (const [key, item] of this.ready) {
      if (batch.length >= max) break;
      this.ready.delete(key);
      batch.push(item);
    }
    for (const item of batch) this.inFlight.set(item.event.key, item);
    return batch;
  }

  /** When the next event may be taken, or undefined when none is waiting. */
  nextReadyAt(): number | undefined {
    if (this.ready.size > 0) return this.now();
    let next: number | undefined;
    for (const item of this.backingOff.values()) next = Math.min(next ?? Infinity, item.readyAt);
    return next;
  }

  /** The events reached the bus, or were given up: a change that came meanwhile is ready now. */
  done(items: QueuedEvent[]): void {
    for (const item of items) this.finish(item);
    this.settle();
  }

  /**
   * The event failed. It is sent again after `delayMs`, unless a newer change of its CR came while
   * it was in flight: that one is sent instead, at once. Returns false when it was superseded.
   */
  retry(item: QueuedEvent, delayMs: number): boolean {
    const superseded = this.finish(item);
    if (!superseded) this.backingOff.set(item.event.key, { ...item, readyAt: this.now() + delayMs, attempt: item.attempt + 1 });
    this.settle();
    return !superseded;
  }

  /** Resolves at the next offer, completion or retry, or when `signal` aborts. */
  changed(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const wake = () => {
        signal?.removeEventListener('abort', wake);
        resolve();
      };
      this.waiters.push(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }

  /** Ends an item's flight; true when a newer change of its CR was waiting, now made ready. */
  private finish(item: QueuedEvent): boolean {
    const { key } = item.event;
    this.inFlight.delete(key);
    const newer = this.dirty.get(key);
    if (!newer) return false;
    this.dirty.delete(key);
    this.ready.set(key, newer);
    return true;
  }

  private settle(): void {
    if (this.depth === 0) this.waitingSince = undefined;
    this.notify();
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
