// The bounded queue between the watches and the publisher. Events for one object coalesce while
// they wait (consumers are level-triggered, so only the latest version matters); events that
// failed wait in a separate set until their backoff ends. Every event counts towards the bound,
// including those in flight, so memory stays flat whatever the bus does.

/** The PutEvents entry fields the contract's helpers build; the publisher adds the bus name. */
export interface BusEntry {
  Source: string;
  DetailType: string;
  Detail: string;
}

export interface PendingEvent {
  /** One per object (`kind/namespace/name`): a newer event for it replaces an older one. */
  objectKey: string;
  /** The contract's eventKey: stable per object version and change. */
  eventKey: string;
  entry: BusEntry;
  /** What it is about, for logs only. */
  subject?: { namespace: string; name: string; change: string; kind?: string };
}

export interface QueuedEvent {
  event: PendingEvent;
  /** Order of arrival, so that a late failure of an old version never replaces a newer one. */
  seq: number;
  readyAt: number;
  /** How many times it has failed. */
  attempt: number;
  /** When its object's first waiting change arrived. */
  queuedAt: number;
}

export type OfferResult = 'queued' | 'coalesced' | 'full';

export interface QueueOptions {
  capacity: number;
  /** How long a new event waits for newer versions of its object before it may be sent. */
  coalesceMs: number;
  now?: () => number;
}

export class PublishQueue {
  // Insertion order is readyAt order here: an event keeps its place when a newer one replaces it.
  private readonly fresh = new Map<string, QueuedEvent>();
  private readonly retries = new Map<string, QueuedEvent>();
  private inFlight = 0;
  private seq = 0;
  private waiters: Array<() => void> = [];
  private readonly now: () => number;
  /** The largest depth seen, for tests and the metrics. */
  highWater = 0;

  constructor(private readonly options: QueueOptions) {
    this.now = options.now ?? Date.now;
  }

  get capacity(): number {
    return this.options.capacity;
  }

  /** Waiting, backing off and in flight: everything not yet on the bus. */
  get depth(): number {
    return this.fresh.size + this.retries.size + this.inFlight;
  }

  /** Queues the event, or merges it into a waiting one for the same object; refuses when full. */
  offer(event: PendingEvent): OfferResult {
    const waiting = this.fresh.get(event.objectKey);
    if (waiting) {
      waiting.event = event;
      waiting.seq = ++this.seq;
      return 'coalesced';
    }
    // A failed older version waiting for its retry is superseded: this one takes its place.
    const superseded = this.retries.delete(event.objectKey);
    if (!superseded && this.depth >= this.options.capacity) return 'full';
    const now = this.now();
    this.fresh.set(event.objectKey, { event, seq: ++this.seq, readyAt: now + this.options.coalesceMs, attempt: 0, queuedAt: now });
    this.highWater = Math.max(this.highWater, this.depth);
    this.notify();
    return superseded ? 'coalesced' : 'queued';
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

  /**
   * Takes up to `max` events whose time has come, retries first; with `flush`, fresh events do not
   * wait out their coalescing window (used when draining).
   */
  take(max: number, flush = false): QueuedEvent[] {
    const now = this.now();
    const batch: QueuedEvent[] = [];
    for (const [key, item] of this.retries) {
      if (batch.length >= max) break;
      if (item.readyAt > now) continue;
      this.retries.delete(key);
      batch.push(item);
    }
    for (const [key, item] of this.fresh) {
      if (batch.length >= max || (!flush && item.readyAt > now)) break;
      this.fresh.delete(key);
      batch.push(item);
    }
    this.inFlight += batch.length;
    return batch;
  }

  /** When the next event may be taken, or undefined when nothing is waiting. */
  nextReadyAt(flush = false): number | undefined {
    let next: number | undefined;
    for (const item of this.retries.values()) next = Math.min(next ?? Infinity, item.readyAt);
    const first = this.fresh.values().next();
    if (!first.done) next = Math.min(next ?? Infinity, flush ? this.now() : first.value.readyAt);
    return next;
  }

  /** The event reached the bus, or was given up. */
  done(count = 1): void {
    this.inFlight -= count;
    this.notify();
  }

  /**
   * The event failed: it waits `delayMs` and goes again, unless a newer version of its object
   * has arrived meanwhile. Returns false when it was superseded.
   */
  retry(item: QueuedEvent, delayMs: number): boolean {
    this.inFlight -= 1;
    const newer = this.fresh.get(item.event.objectKey) ?? this.retries.get(item.event.objectKey);
    if (newer && newer.seq > item.seq) {
      this.notify();
      return false;
    }
    this.retries.set(item.event.objectKey, { ...item, readyAt: this.now() + delayMs, attempt: item.attempt + 1 });
    this.notify();
    return true;
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

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
