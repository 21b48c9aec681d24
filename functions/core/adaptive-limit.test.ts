import { describe, expect, it } from 'vitest';
import { AdaptiveLimit } from './adaptive-limit.js';

/** Runs `rounds` rounds of as many requests as the limit allows, each taking `latencyMs`. */
async function load(limit: AdaptiveLimit, rounds: number, latencyMs: number): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const n = limit.limit;
    await Promise.all(Array.from({ length: n }, () => limit.acquire()));
    for (let i = 0; i < n; i++) limit.release({ latencyMs });
  }
}

describe('AdaptiveLimit', () => {
  it('grows while latency holds, up to its max', async () => {
    const limit = new AdaptiveLimit({ initial: 4, min: 1, max: 50 });
    await load(limit, 30, 10);
    expect(limit.limit).toBe(50);
  });

  it('shrinks when latency rises, and never lets more than the limit in', async () => {
    const limit = new AdaptiveLimit({ initial: 20, min: 2, max: 50 });
    await load(limit, 5, 10);
    const before = limit.limit;
    await load(limit, 3, 500);
    expect(limit.limit).toBeLessThan(before / 2);
    expect(limit.lowest).toBeLessThanOrEqual(limit.limit);

    const granted: number[] = [];
    for (let i = 0; i < limit.limit + 5; i++) void limit.acquire().then(() => granted.push(i));
    await Promise.resolve();
    expect(granted.length).toBe(limit.limit);
    expect(limit.inFlight).toBe(limit.limit);
  });

  it('cuts the limit on a drop (429, 503, no answer), whatever the latency', () => {
    const limit = new AdaptiveLimit({ initial: 20, min: 1, max: 50 });
    void limit.acquire();
    limit.release('dropped');
    expect(limit.limit).toBe(16);
    for (let i = 0; i < 30; i++) {
      void limit.acquire();
      limit.release('dropped');
    }
    expect(limit.limit).toBe(1);
  });

  it('does not move while less than half of it is in use', async () => {
    const limit = new AdaptiveLimit({ initial: 20, min: 1, max: 50 });
    for (let i = 0; i < 50; i++) {
      await limit.acquire();
      limit.release({ latencyMs: i < 10 ? 10 : 500 });
    }
    expect(limit.limit).toBe(20);
  });

  it('hands a released place to the first waiter', async () => {
    const limit = new AdaptiveLimit({ initial: 1, min: 1, max: 1 });
    await limit.acquire();
    const order: string[] = [];
    const a = limit.acquire().then(() => order.push('a'));
    const b = limit.acquire().then(() => order.push('b'));
    limit.release('ignored');
    await a;
    limit.release('ignored');
    await b;
    expect(order).toEqual(['a', 'b']);
  });
});
