// Timing helpers of the forwarder (the backoff itself is shared with the functions).

export { backoffDelay, sleep, type BackoffPolicy } from '../core/backoff.js';

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
