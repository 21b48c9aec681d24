import { describe, expect, it } from 'vitest';
import { forEachBounded, Semaphore } from './concurrency.js';

describe('forEachBounded', () => {
  it('visits every item once with no more than the limit in flight', async () => {
    let inFlight = 0;
    let mostInFlight = 0;
    const seen: number[] = [];
    await forEachBounded([1, 2, 3, 4, 5, 6, 7], 3, async (item) => {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      seen.push(item);
      inFlight--;
    });
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(mostInFlight).toBe(3);
  });

  it('does nothing for no items', async () => {
    let calls = 0;
    await forEachBounded([], 4, async () => {
      calls++;
    });
    expect(calls).toBe(0);
  });
});

describe('Semaphore', () => {
  it('passes on a task’s result and error, and frees its place either way', async () => {
    const semaphore = new Semaphore(1);
    await expect(semaphore.run(async () => 7)).resolves.toBe(7);
    await expect(semaphore.run(async () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    await expect(semaphore.run(async () => 'still free')).resolves.toBe('still free');
  });
});
