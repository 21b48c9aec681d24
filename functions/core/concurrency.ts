// Bounded concurrency, shared by the resync (many CRs at once) and the reconcile handler.

/** At most `limit` tasks run at once; the rest wait their turn, first come first served. */
export class Semaphore {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await task();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

/** Runs `work` over `items` with at most `concurrency` in flight. */
export async function forEachBounded<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  const semaphore = new Semaphore(concurrency);
  await Promise.all(items.map((item) => semaphore.run(() => work(item))));
}
