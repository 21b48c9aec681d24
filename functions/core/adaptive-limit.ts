// How many requests may be in flight at once, following what the server can take instead of a
// hand-tuned constant. The limit is Netflix concurrency-limits' Gradient2 (Gradient2Limit.java):
// it compares the latency of recent requests with its long-run average, grows by a small "queue
// allowance" while they match, and shrinks in proportion when recent requests take longer, as a
// queue building up at the server makes them. A request the server turned away (429, 503) or gave
// no answer to is a drop, and cuts the limit at once by a ratio, as the library's AIMDLimit does.
// The limit only moves while it binds: with less than half of it in use, latency says nothing
// about it.

export interface AdaptiveLimitOptions {
  initial: number;
  min: number;
  max: number;
}

/** What one request tells the limit: its latency, that it was dropped, or nothing (it failed on our side). */
export type LimitSample = { latencyMs: number } | 'dropped' | 'ignored';

/**
 * How far recent latency may rise over the long-run average before the limit shrinks. Gradient2's
 * default is 1.5, for latency-sensitive services; writes of a burst are throughput work, and the
 * API server serves a burst fastest with some queue (50 writes in flight beat 10 by 16 %).
 */
const TOLERANCE = 2;
/** How far one sample moves the limit towards its new value. */
const SMOOTHING = 0.2;
/** Samples the long-run latency averages over (an exponential average), after a plain mean of the first ones. */
const LONG_WINDOW = 600;
const WARMUP = 10;
/** Samples the recent latency averages over, so that one slow request is not a trend. */
const SHORT_WINDOW = 10;
/** Grown per sample while latency holds: the queue allowed at the server. */
const QUEUE_ALLOWANCE = 4;
/** The cut on a drop. */
const BACKOFF_RATIO = 0.8;

/** An exponential moving average that starts as a plain mean over its first `warmup` samples. */
class Average {
  value = 0;
  private count = 0;

  constructor(
    private readonly window: number,
    private readonly warmup: number,
  ) {}

  add(sample: number): number {
    this.count++;
    const weight = this.count <= this.warmup ? 1 / this.count : 2 / (this.window + 1);
    this.value += (sample - this.value) * weight;
    return this.value;
  }

  scale(factor: number): void {
    this.value *= factor;
  }
}

/** A semaphore whose size follows the gradient limit. */
export class AdaptiveLimit {
  private estimate: number;
  private inFlightNow = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly longLatency = new Average(LONG_WINDOW, WARMUP);
  private readonly shortLatency = new Average(SHORT_WINDOW, 1);
  /** The lowest limit since the start, for metrics and tests. */
  lowest: number;

  constructor(private readonly options: AdaptiveLimitOptions) {
    this.estimate = options.initial;
    this.lowest = this.limit;
  }

  /** How many may be in flight now. */
  get limit(): number {
    return Math.max(this.options.min, Math.floor(this.estimate));
  }

  get inFlight(): number {
    return this.inFlightNow;
  }

  /** Resolves when there is room; every acquire is followed by one release. */
  acquire(): Promise<void> {
    if (this.inFlightNow < this.limit && this.waiting.length === 0) {
      this.inFlightNow++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(sample: LimitSample): void {
    // The limit is judged against what was in flight with this request, itself included.
    this.update(sample, this.inFlightNow);
    this.inFlightNow--;
    while (this.waiting.length > 0 && this.inFlightNow < this.limit) {
      this.inFlightNow++;
      this.waiting.shift()!();
    }
  }

  private update(sample: LimitSample, inFlight: number): void {
    if (sample === 'ignored') return;
    if (sample === 'dropped') {
      this.estimate = Math.max(this.options.min, this.estimate * BACKOFF_RATIO);
    } else {
      this.estimate = this.gradientStep(sample.latencyMs, inFlight);
    }
    this.lowest = Math.min(this.lowest, this.limit);
  }

  private gradientStep(latencyMs: number, inFlight: number): number {
    // A zero latency (a clock's resolution) would make the ratio infinite.
    const recent = this.shortLatency.add(Math.max(latencyMs, 0.01));
    const longRun = this.longLatency.add(Math.max(latencyMs, 0.01));
    // After a long spell of high latency the average is high too; let it come down faster.
    if (longRun / recent > 2) this.longLatency.scale(0.95);
    if (inFlight < this.estimate / 2) return this.estimate;
    const gradient = Math.max(0.5, Math.min(1, (TOLERANCE * longRun) / recent));
    const target = this.estimate * gradient + QUEUE_ALLOWANCE;
    const next = this.estimate * (1 - SMOOTHING) + target * SMOOTHING;
    return Math.max(this.options.min, Math.min(this.options.max, next));
  }
}
