// The bus failing for a while (server errors, throttling, partial failures of a batch, no answer): every
// change still arrives once it recovers, nothing twice, and the queue stays within its bound.
import { beforeAll, describe, expect, it } from 'vitest';
import type { ForwarderHandle } from '../../functions/forwarder/forwarder.js';
import type { EventBridgeEndpoint, Fault } from '../support/eventbridge-endpoint.js';
import { metric, useForwarder } from '../support/forwarder.js';
import { eventually } from '../support/kube.js';
import { createCr, getCr } from '../support/operator.js';

const CAPACITY = 8;
const CRS = 30;
/** Each failing request takes the next kind of failure in turn. */
const rotatingFaults = (request: number): Fault => {
  const faults: Fault[] = [
    { kind: 'server-error', status: 503 },
    { kind: 'throttle' },
    { kind: 'partial', failIndexes: [0, 2], errorCode: 'ThrottlingException' },
    { kind: 'hang' },
  ];
  return faults[request % faults.length]!;
};

const fixture = useForwarder('fwd-faults', { QUEUE_CAPACITY: String(CAPACITY), PUBLISH_CONCURRENCY: '2', PUT_EVENTS_TIMEOUT_MS: '500' });

describe('the forwarder', () => {
  describe('when the bus fails for a while and more changes arrive than the queue holds', () => {
    const names = Array.from({ length: CRS }, (_, i) => `cr-${i}`);

    let endpoint: EventBridgeEndpoint;
    let forwarder: ForwarderHandle;
    let versions: Array<readonly [string, string]>;

    // The whole story happens here, so that each test below can run alone.
    beforeAll(async () => {
      let namespace: string;
      ({ namespace, endpoint, forwarder } = fixture);
      endpoint.setFaults(rotatingFaults);
      for (const name of names) await createCr(namespace, name);
      await eventually('the queue to fill and every kind of failure to happen', async () => {
        const backpressure = await metric(forwarder, 'forwarder_watch_restarts_total', { reason: 'backpressure' });
        return backpressure > 0 && endpoint.requests.length >= 12;
      });
      endpoint.setFaults(() => ({ kind: 'none' }));
      versions = await Promise.all(names.map(async (name) => [name, (await getCr(namespace, name)).metadata.resourceVersion!] as const));
      await eventually('an event for every CR', () => versions.every(([name, version]) => endpoint.has(name, version)), { timeoutMs: 60_000 });
    });

    it('publishes every CR\'s latest version once the bus recovers', () => {
      expect(versions.filter(([name, version]) => !endpoint.has(name, version))).toEqual([]);
    });

    it('publishes no event twice', () => {
      const keys = endpoint.events.map((e) => e.detail.key);

      expect(new Set(keys).size).toBe(keys.length);
    });

    it('never holds more than the queue\'s capacity', () => {
      expect(forwarder.queue()!.highWater).toBeLessThanOrEqual(CAPACITY);
    });

    it('counts the failures and the retries by reason', async () => {
      const failures = await Promise.all(['server-error', 'throttled', 'timeout'].map((reason) => metric(forwarder, 'forwarder_events_failed_total', { reason })));
      const retried = await metric(forwarder, 'forwarder_events_retried_total');

      expect(failures.every((count) => count > 0)).toBe(true);
      expect(retried).toBeGreaterThan(0);
    });

    it('sends at most ten entries per request', () => {
      expect(Math.max(...endpoint.requests.map((r) => r.entries))).toBeLessThanOrEqual(10);
    });
  });
});
