import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';

const policy = { baseMs: 100, maxMs: 5_000 };

describe('backoffDelay', () => {
  describe('when the random draw is at its extremes', () => {
    it('stays between a tenth of the ceiling and the ceiling', () => {
      const low = backoffDelay(3, policy, () => 0);
      const high = backoffDelay(3, policy, () => 1);

      expect(low).toBe(80);
      expect(high).toBe(800);
    });
  });

  describe('when attempts grow', () => {
    it('doubles the ceiling each time until the maximum', () => {
      const ceilings = [0, 1, 2, 6, 7, 40].map((attempt) => backoffDelay(attempt, policy, () => 1));

      expect(ceilings).toEqual([100, 200, 400, 5_000, 5_000, 5_000]);
    });
  });

  describe('when many clients retry together', () => {
    it('spreads their delays apart', () => {
      const draws = [0.1, 0.5, 0.9];

      const delays = draws.map((draw) => backoffDelay(4, policy, () => draw));

      expect(new Set(delays).size).toBe(3);
    });
  });
});
