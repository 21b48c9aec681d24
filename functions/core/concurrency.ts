// Bounded concurrency, for the resync (many CRs at once) and anything else that fans out.

/** At most `limit` tasks run at once; the rest wait their turn, first come first served. */
export class Semaphore {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running < this.limit) this.running++;
    // The finishing task hands its slot straight to the first waiter, so a caller arriving in
    // between never finds it free.
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

/** Runs `work` over `items` with at most `concurrency` in flight. */
export async function forEachBounded<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  const semaphore = new Semaphore(concurrency);
  await Promise.all(items.map((item) => semaphore.run(() => work(item))));
}
