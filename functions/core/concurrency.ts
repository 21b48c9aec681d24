// Bounded concurrency, for the resync (many CRs at once) and anything else that fans out.

/**
 * At most `limit` tasks run at once; the rest wait their turn, first come first served. The limit
 * may be a function, read at each start and end of a task: a limit that shrinks lets no new task
 * start until enough have ended.
 */
export class Semaphore {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly limit: () => number;

  constructor(limit: number | (() => number)) {
    this.limit = typeof limit === 'number' ? () => limit : limit;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running < this.limit() && this.waiting.length === 0) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      // The finishing task hands its slot straight to the first waiter (synchronously), so a
      // caller arriving in between never finds it free.
      this.running--;
      while (this.waiting.length > 0 && this.running < this.limit()) {
        this.running++;
        this.waiting.shift()!();
      }
    }
  }
}

/** Runs `work` over `items` with at most `concurrency` in flight. */
export async function forEachBounded<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  const semaphore = new Semaphore(concurrency);
  await Promise.all(items.map((item) => semaphore.run(() => work(item))));
}
