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

describe('Semaphore handing a slot over', () => {
  it('never runs more than its limit when a new caller arrives while a finishing task hands its slot to a waiter', async () => {
    const semaphore = new Semaphore(1);
    let inFlight = 0;
    let mostInFlight = 0;
    const task = async () => {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
    };
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = semaphore.run(() => gate);
    const waiter = semaphore.run(task);
    // Runs right after the first task's own continuation: after its slot is handed over, before
    // the waiter has had a microtask to start.
    const latecomer = gate.then(() => semaphore.run(task));

    release();
    await Promise.all([first, waiter, latecomer]);

    expect(mostInFlight).toBe(1);
  });
});

describe('Semaphore with a limit that moves', () => {
  it('starts no task while more run than a shrunk limit, and starts more when it grows', async () => {
    let limit = 3;
    const semaphore = new Semaphore(() => limit);
    let inFlight = 0;
    const seen: number[] = [];
    const releases: Array<() => void> = [];
    const task = () =>
      new Promise<void>((resolve) => {
        inFlight++;
        seen.push(inFlight);
        releases.push(() => {
          inFlight--;
          resolve();
        });
      });
    const all = Array.from({ length: 6 }, () => semaphore.run(task));
    await Promise.resolve();
    expect(inFlight).toBe(3);

    limit = 1;
    releases.shift()!();
    await new Promise((r) => setTimeout(r, 0));
    // Two still run, above the new limit: none starts.
    expect(inFlight).toBe(2);
    releases.shift()!();
    await new Promise((r) => setTimeout(r, 0));
    expect(inFlight).toBe(1);

    limit = 4;
    releases.shift()!();
    await new Promise((r) => setTimeout(r, 0));
    expect(inFlight).toBe(3);
    while (releases.length > 0) {
      releases.shift()!();
      await new Promise((r) => setTimeout(r, 0));
    }
    await Promise.all(all);
    expect(Math.max(...seen)).toBe(3);
  });
});
