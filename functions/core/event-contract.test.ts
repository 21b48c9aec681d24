import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  childChangedEntry,
  DetailType,
  FORWARDER_SOURCE,
  reconcileEventSchema,
  reconcileRulePattern,
  reconcileTarget,
  resourceChangedEntry,
  resyncEventSchema,
  sqsBatchSchema,
} from './event-contract.js';

const eventsDir = new URL('../../test/events/', import.meta.url).pathname;
const recorded = readdirSync(eventsDir)
  .filter((file) => file.endsWith('.json'))
  .map((file) => ({ file, event: JSON.parse(readFileSync(join(eventsDir, file), 'utf8')) as Record<string, unknown> }));

function matchesRule(event: Record<string, unknown>): boolean {
  return reconcileRulePattern.source.includes(event.source as never) && reconcileRulePattern['detail-type'].includes(event['detail-type'] as never);
}

describe('event contract', () => {
  it('has recorded events for every case the functions handle', () => {
    expect(recorded.map(({ file }) => file)).toEqual(
      expect.arrayContaining(['cr-created.json', 'cr-updated.json', 'cr-deleted.json', 'child-changed.json', 'scheduled-resync.json']),
    );
    expect(recorded.filter(({ file }) => file.startsWith('malformed-')).length).toBeGreaterThanOrEqual(2);
  });

  describe.each(recorded.filter(({ file }) => file.startsWith('cr-') || file.startsWith('child-')))('recorded reconcile event $file', ({ event }) => {
    it('validates against the reconcile schema', () => {
      expect(reconcileEventSchema.safeParse(event).success).toBe(true);
    });

    it('is routed to the reconcile function by the rule pattern', () => {
      expect(matchesRule(event)).toBe(true);
    });
  });

  describe.each(recorded.filter(({ file }) => file.startsWith('malformed-')))('recorded malformed event $file', ({ event }) => {
    it('is rejected by the reconcile schema', () => {
      expect(reconcileEventSchema.safeParse(event).success).toBe(false);
    });
  });

  it('reads the recorded SQS batch as the queue delivers it, each body an event the rule routes to the reconcile', () => {
    const { event } = recorded.find(({ file }) => file === 'sqs-batch.json')!;

    const batch = sqsBatchSchema.parse(event);

    expect(batch.Records).toHaveLength(2);
    for (const record of batch.Records) {
      const body = JSON.parse(record.body) as Record<string, unknown>;
      expect(reconcileEventSchema.safeParse(body).success).toBe(true);
      expect(matchesRule(body)).toBe(true);
    }
  });

  it('refuses an event whose strings outgrow what the forwarder ever sends', () => {
    const { event } = recorded.find(({ file }) => file === 'cr-created.json')!;
    const oversized = { ...event, detail: { ...(event.detail as object), key: 'k'.repeat(300_000) } };

    expect(reconcileEventSchema.safeParse(oversized).success).toBe(false);
  });

  it('accepts the recorded schedule input as a resync request', () => {
    const { event } = recorded.find(({ file }) => file === 'scheduled-resync.json')!;
    expect(resyncEventSchema.safeParse(event).success).toBe(true);
    expect(matchesRule(event)).toBe(false);
  });

  it('accepts a plain EventBridge scheduled event as a resync request', () => {
    const scheduled = { id: 'x', source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} };
    expect(resyncEventSchema.safeParse(scheduled).success).toBe(true);
  });

  it('targets the owner CR when a child changed', () => {
    const { event } = recorded.find(({ file }) => file === 'child-changed.json')!;
    expect(reconcileTarget(reconcileEventSchema.parse(event))).toEqual({ namespace: 'peerns', name: 'kindcustomhttp-sample' });
  });

  describe('when the forwarder builds PutEvents entries', () => {
    const detail = { key: 'u/1/Added', namespace: 'ns', name: 'a', uid: 'u', resourceVersion: '1', generation: 1, change: 'Added' as const };

    it('produces entries that parse back to the same detail', () => {
      const entry = resourceChangedEntry(detail);
      expect(entry).toMatchObject({ Source: FORWARDER_SOURCE, DetailType: DetailType.ResourceChanged });
      const event = { id: '1', source: entry.Source, 'detail-type': entry.DetailType, detail: JSON.parse(entry.Detail) };
      expect(reconcileEventSchema.parse(event).detail).toEqual(detail);
    });

    it('refuses to build an entry for an invalid detail', () => {
      expect(() => childChangedEntry({ ...detail, kind: 'Secret' as never, owner: { name: 'a', uid: 'u' } })).toThrow();
    });

    it('keeps spec and data out of the event', () => {
      const entry = resourceChangedEntry({ ...detail, spec: { secret: 'x' } } as never);
      expect(JSON.parse(entry.Detail)).not.toHaveProperty('spec');
    });
  });
});
