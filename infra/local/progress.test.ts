import { describe, expect, it } from 'vitest';
import { Progress } from './progress.js';

const forwarder = (at: number, json: object) => ({ source: 'forwarder' as const, at, text: JSON.stringify(json), json: json as Record<string, unknown> });
const functions = (at: number, json: object) => ({ source: 'functions' as const, at, text: JSON.stringify(json), json: json as Record<string, unknown> });
const bus = (at: number, json: object) => ({ source: 'bus' as const, at, text: JSON.stringify(json), json: json as Record<string, unknown> });

describe('Progress', () => {
  it('reports how long after publishing an event its reconcile finished', () => {
    const progress = new Progress();
    progress.describe(forwarder(1000, { level: 'DEBUG', message: 'published', eventKey: 'u/1/Added', namespace: 'ns', name: 'a', change: 'Added', queuedMs: 12 }));

    const entry = progress.describe(functions(1250, { level: 'INFO', message: 'reconciled', eventKey: 'u/1/Added', namespace: 'ns', name: 'a', outcome: 'converged', changes: 3, ready: false }));

    expect(entry?.text).toBe('reconcile  ns/a: converged, 3 change(s), not ready yet (250 ms after publishing)');
  });

  it('shows each change with the fields it touched', () => {
    const entry = new Progress().describe(functions(0, { level: 'INFO', message: 'updated Deployment ns/a', change: { fields: ['spec.replicas'] } }));
    expect(entry?.text).toContain('updated Deployment ns/a (spec.replicas)');
  });

  it('passes over metrics and plain output', () => {
    const progress = new Progress();
    expect(progress.describe(functions(0, { _aws: {}, Reconciles: 1 }))).toBeUndefined();
    expect(progress.describe({ source: 'functions', at: 0, text: '(λ: reconcile) RequestId: x' })).toBeUndefined();
  });

  it('always shows warnings and errors', () => {
    expect(new Progress().describe(forwarder(0, { level: 'WARN', message: 'list or watch failed', error: 'boom' }))?.text).toBe('forwarder  warn: list or watch failed: boom');
  });

  it('shows each invocation of the reconcile function with its batch, how long the batch waited, and what failed', () => {
    const progress = new Progress();

    const done = progress.describe(bus(0, { message: 'invoked', messages: 3, oldestWaitMs: 12, durationMs: 240, failed: 0 }));
    const partial = progress.describe(bus(0, { message: 'invoked', messages: 3, oldestWaitMs: 5, durationMs: 90, failed: 1 }));
    const failed = progress.describe(bus(0, { message: 'invoked', messages: 2, oldestWaitMs: 5, durationMs: 90, failed: 2, error: 'HTTP 502' }));

    expect(done?.text).toBe('bus        reconcile invoked with 3 message(s), the oldest queued 12 ms: done in 240 ms');
    expect(partial?.text).toContain('1 message(s) reported failed come back after the visibility timeout');
    expect(failed?.text).toContain('failed: HTTP 502; its 2 message(s) come back after the visibility timeout');
  });
});
