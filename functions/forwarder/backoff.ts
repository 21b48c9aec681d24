// Timing helpers. Retry delays use "full jitter", so that many clients failing together (every
// watch after an apiserver restart, every batch after a throttle) spread their retries out.

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

/** Thrown when a request got no answer in time. */
export class NoAnswerError extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: no answer within ${ms} ms`);
    this.name = 'NoAnswerError';
  }
}

/** `promise`, or a NoAnswerError after `ms` (the request itself is left to its own fate). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NoAnswerError(what, ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
