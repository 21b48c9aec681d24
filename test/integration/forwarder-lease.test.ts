// Leader election against the real Lease of the real apiserver, no mocks: one leader among
// candidates, a leader that loses the Lease to another holder while alive stops its work, an
// expired Lease is taken over, and the Lease is released when work stops.
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../functions/core/kube-client.js';
import { LeaderElector, microTime } from '../../functions/forwarder/leader.js';
import { adminKubeClient, createNamespace, deleteNamespace, eventually } from '../support/kube.js';

const log = new Logger({ logLevel: 'SILENT' });
const timings = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 200 };
let client: KubeClient;
let namespace: string;
let lease: string;
let leaseNumber = 0;
const stops: AbortController[] = [];

interface LeaseObject {
  metadata: { resourceVersion?: string };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string; leaseTransitions?: number };
}

const leasePath = () => `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${lease}`;
const readLease = () => client.request<LeaseObject>(leasePath());

/** Writes the Lease as another holder would: held by `holder`, renewed now, for `seconds`. */
async function holdAs(holder: string | undefined, seconds: number): Promise<void> {
  const current = await readLease();
  await client.request(leasePath(), { method: 'PUT', body: { ...current, spec: { ...current.spec, holderIdentity: holder, leaseDurationSeconds: seconds, renewTime: microTime() } } });
}

function elector(identity: string): LeaderElector {
  return new LeaderElector(client, { namespace, name: lease, identity, ...timings }, log);
}

/** Runs `elector` with work that records whether it is running, until the test ends. */
function campaign(candidate: LeaderElector) {
  const stop = new AbortController();
  stops.push(stop);
  const state = { working: false, leaderships: 0 };
  const running = candidate.run(stop.signal, async (signal) => {
    state.working = true;
    state.leaderships += 1;
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    state.working = false;
  });
  return { state, stop, running };
}

beforeAll(async () => {
  client = adminKubeClient();
  namespace = await createNamespace('fwd-lease');
});
// Each test has a Lease of its own.
afterEach(() => {
  for (const stop of stops.splice(0)) stop.abort();
  lease = `lease-${++leaseNumber}`;
});
afterAll(() => deleteNamespace(namespace));
lease = `lease-${leaseNumber}`;

describe('LeaderElector', () => {
  describe('when two candidates campaign at once', () => {
    it('lets exactly one lead, the one the Lease names', async () => {
      const [a, b] = [elector('a'), elector('b')];
      const [ca, cb] = [campaign(a), campaign(b)];

      await eventually('a leader', () => ca.state.working || cb.state.working);
      await new Promise((resolve) => setTimeout(resolve, 1000));

      const leaders = [a, b].filter((candidate) => candidate.leading);
      expect(leaders).toHaveLength(1);
      expect([ca.state.working, cb.state.working].filter(Boolean)).toHaveLength(1);
      expect((await readLease()).spec?.holderIdentity).toBe(ca.state.working ? 'a' : 'b');
    });
  });

  describe('when another holder takes the Lease while it leads', () => {
    it('stops its work before the new holder could count the Lease as its own, and leads again once it is free', async () => {
      const me = elector('me');
      const { state } = campaign(me);
      await eventually('leading', () => state.working);

      await holdAs('intruder', 3600);
      const takenAt = Date.now();
      await eventually('the work to stop', () => !state.working, { timeoutMs: 10_000, intervalMs: 50 });
      const stoppedAfterMs = Date.now() - takenAt;
      await holdAs(undefined, 1);

      await eventually('leading again', () => state.working && state.leaderships === 2, { timeoutMs: 10_000 });
      expect(stoppedAfterMs).toBeLessThan(timings.leaseDurationMs);
      expect((await readLease()).spec?.holderIdentity).toBe('me');
    });
  });

  describe('when the holder stops renewing', () => {
    it('takes the Lease over only once a whole lease duration has passed on its own clock', async () => {
      await client.request(`/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`, {
        method: 'POST',
        body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: lease }, spec: { holderIdentity: 'gone', leaseDurationSeconds: 2, renewTime: microTime(), leaseTransitions: 0 } },
      });
      const startedAt = Date.now();
      const { state } = campaign(elector('successor'));

      await eventually('the successor to lead', () => state.working, { timeoutMs: 10_000, intervalMs: 50 });

      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(2000);
      expect((await readLease()).spec).toMatchObject({ holderIdentity: 'successor', leaseTransitions: 1 });
    });
  });

  describe('when asked to stop', () => {
    it('stops the work, then releases the Lease', async () => {
      const { state, stop, running } = campaign(elector('me'));
      await eventually('leading', () => state.working);

      stop.abort();
      await running;

      expect(state.working).toBe(false);
      expect((await readLease()).spec?.holderIdentity).toBeUndefined();
    });
  });

  describe('when its work ends by itself', () => {
    it('releases the Lease and fails instead of holding it idle', async () => {
      const me = elector('me');

      const running = me.run(new AbortController().signal, async () => undefined);

      await expect(running).rejects.toThrow(/ended by itself/);
      expect((await readLease()).spec?.holderIdentity).toBeUndefined();
      expect(me.leading).toBe(false);
    });
  });

  describe('when the Lease cannot be read', () => {
    it('does not lead, and writes no Lease', async () => {
      const denied = adminKubeClient().withToken('not-a-token');
      const candidate = new LeaderElector(denied, { namespace, name: lease, identity: 'nobody', ...timings }, log);

      const acquired = await candidate.tryAcquireOrRenew();

      expect(acquired).toBe(false);
      await expect(readLease()).rejects.toMatchObject({ code: 404 });
    });
  });
});
