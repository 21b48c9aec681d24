// A bus that refuses the forwarder itself (its role lost events:PutEvents): no retry cures that, a
// fix of the configuration does. The forwarder keeps the events, says once what to fix, reports
// itself not ready and stuck, and publishes everything once the bus takes events again.
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ForwarderHandle } from '../../functions/forwarder/forwarder.js';
import { EventBridgeEndpoint } from '../support/eventbridge-endpoint.js';
import { metric, startTestForwarder } from '../support/forwarder.js';
import { createNamespace, deleteNamespace, eventually, installCrd } from '../support/kube.js';
import { createCr } from '../support/operator.js';

const STUCK_SECONDS = 2;
const names = ['a', 'b', 'c'];
const log = new Logger({ logLevel: 'SILENT' });
const errors = vi.spyOn(log, 'error');
let namespace: string;
let endpoint: EventBridgeEndpoint;
let forwarder: ForwarderHandle;
const readyz = async () => (await fetch(`http://127.0.0.1:${forwarder.port}/readyz`)).status;

beforeAll(async () => {
  await installCrd();
  namespace = await createNamespace('fwd-stuck');
  endpoint = await EventBridgeEndpoint.start();
  forwarder = await startTestForwarder(endpoint, namespace, { PUBLISH_STUCK_SECONDS: String(STUCK_SECONDS) }, { log });
  await eventually('the forwarder to be ready', () => forwarder.ready());
});
afterAll(async () => {
  await forwarder?.shutdown();
  await endpoint?.close();
  await deleteNamespace(namespace);
});

describe('the forwarder', () => {
  describe('when the bus refuses every request with AccessDenied', () => {
    let refusedAt: number;
    let notReadyAfterMs: number;
    let stuckMetric: number;

    beforeAll(async () => {
      endpoint.setFaults(() => ({ kind: 'refuse', type: 'AccessDeniedException' }));
      refusedAt = Date.now();
      for (const name of names) await createCr(namespace, name);
      await eventually('/readyz to fail', async () => (await readyz()) === 503, { timeoutMs: 30_000, intervalMs: 100 });
      notReadyAfterMs = Date.now() - refusedAt;
      stuckMetric = await metric(forwarder, 'forwarder_publish_stuck');
    });

    it('fails /readyz once the configured time has passed', () => {
      expect(notReadyAfterMs).toBeGreaterThan(STUCK_SECONDS * 1000);
    });

    it('shows it in a metric', () => {
      expect(stuckMetric).toBe(1);
    });

    it('logs one line that names the refusal and what to fix', () => {
      const lines = errors.mock.calls.map(([message]) => String(message));

      expect(lines).toEqual([expect.stringMatching(/AccessDeniedException.*events:PutEvents/)]);
    });

    it('keeps its liveness: restarting would not fix the bus', async () => {
      expect((await fetch(`http://127.0.0.1:${forwarder.port}/healthz`)).status).toBe(200);
    });

    describe('and then takes events again', () => {
      beforeAll(async () => {
        endpoint.setFaults(() => ({ kind: 'none' }));
        await eventually('every CR published', () => names.every((name) => endpoint.eventsFor(name, namespace).length > 0), { timeoutMs: 30_000 });
      });

      it('publishes everything that was queued and is ready again', async () => {
        await eventually('/readyz to pass', async () => (await readyz()) === 200, { timeoutMs: 10_000 });

        expect(names.filter((name) => endpoint.eventsFor(name, namespace).length === 0)).toEqual([]);
        expect(await metric(forwarder, 'forwarder_publish_stuck')).toBe(0);
      });
    });
  });
});
