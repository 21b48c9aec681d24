// Waiting and retrying. Retry delays use "full jitter", so that many clients failing together
// (every watch after an apiserver restart, every reconcile during an outage) spread their retries.

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/**
 * The delay before retry number `attempt` (0 for the first retry): a uniformly random point in
 * [0, min(max, base·2^attempt)], never below a tenth of that ceiling so a retry is never instant.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  const floor = ceiling / 10;
  return Math.round(floor + random() * (ceiling - floor));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface RetryOptions {
  backoff: BackoffPolicy;
  /** Whether a failure is worth another try. */
  retryable: (error: unknown) => boolean;
  /** Milliseconds left for trying; no retry starts that would not fit. */
  timeLeft: () => number;
  /** Called before each retry, with the failure that caused it. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/** Runs `task`, trying again after a backoff while it fails retryably and time is left. */
export async function retrying<T>(task: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await task();
    } catch (error) {
      const delay = backoffDelay(attempt, options.backoff);
      if (!options.retryable(error) || options.timeLeft() < delay) throw error;
      options.onRetry?.(error, attempt, delay);
      await sleep(delay);
    }
  }
}
