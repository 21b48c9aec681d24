import { describe, expect, it } from 'vitest';
import { reconcileRulePattern } from '../../../functions/core/event-contract.js';
import { checkPattern, matchesPattern, UnsupportedPatternError } from './event-pattern.js';

const event = (source: string, detailType: string, detail: object = {}) => ({ source, 'detail-type': detailType, detail });

describe('matchesPattern', () => {
  it('matches the events the reconcile rule routes, and no others', () => {
    expect(matchesPattern(reconcileRulePattern, event('stimulated-peering.forwarder', 'KindCustomHttp Changed'))).toBe(true);
    expect(matchesPattern(reconcileRulePattern, event('stimulated-peering.forwarder', 'KindCustomHttp Child Changed'))).toBe(true);
    expect(matchesPattern(reconcileRulePattern, event('stimulated-peering.scheduler', 'KindCustomHttp Changed'))).toBe(false);
    expect(matchesPattern(reconcileRulePattern, event('stimulated-peering.forwarder', 'KindCustomHttp Resync Requested'))).toBe(false);
  });

  it('matches nested fields, and an array field when any element is listed', () => {
    const pattern = { detail: { change: ['Added', 'Deleted'], tags: ['a'] } };

    expect(matchesPattern(pattern, event('s', 't', { change: 'Added', tags: ['b', 'a'] }))).toBe(true);
    expect(matchesPattern(pattern, event('s', 't', { change: 'Modified', tags: ['a'] }))).toBe(false);
    expect(matchesPattern(pattern, event('s', 't', { change: 'Added' }))).toBe(false);
  });
});

describe('checkPattern', () => {
  it('refuses content filters, which the emulation does not implement', () => {
    expect(() => checkPattern({ detail: { name: [{ prefix: 'a' }] } } as never)).toThrow(UnsupportedPatternError);
    expect(() => checkPattern(reconcileRulePattern)).not.toThrow();
  });
});
