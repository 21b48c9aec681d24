// Two forwarder processes with Lease-based leader election: one publishes, the other stands by.
// A leader killed with events still queued loses nothing (its successor lists everything again);
// a leader that loses the Lease while alive stops publishing; sent SIGTERM, it drains and hands
// over. Each test has its own pair, namespace and Lease, so each runs alone.
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/processes.js';
import { EventBridgeEndpoint } from '../support/eventbridge-endpoint.js';
import { forwarderEnvironment, spawnForwarder } from '../support/forwarder.js';
import { adminClients, adminKubeClient, createNamespace, deleteNamespace, eventually, installCrd } from '../support/kube.js';
import { createCr, getCr } from '../support/operator.js';
import { ApiError } from '../../functions/core/kube-client.js';
import { microTime } from '../../functions/forwarder/leader.js';

const LEASE = 'forwarder-lease';
const LEASE_DURATION_SECONDS = 4;
const NAMES = ['forwarder-a', 'forwarder-b'] as const;
type Name = (typeof NAMES)[number];

interface LeaseObject {
  metadata: Record<string, unknown>;
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string; leaseTransitions?: number };
}

const client = adminKubeClient();
const { core } = adminClients();
let endpoint: EventBridgeEndpoint;
let namespace: string;
let instances: Map<Name, { process: ChildProcess & { output: string[] }; port: number }>;
let failed = false;

const leasePath = () => `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${LEASE}`;
const lease = () => client.request<LeaseObject>(leasePath());

/** Rewrites the Lease's spec as another holder would: read, change, write, again when a renewal came in between (409). */
async function rewriteLease(change: (spec: LeaseObject['spec']) => LeaseObject['spec']): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const current = await lease();
    try {
      await client.request(leasePath(), { method: 'PUT', body: { ...current, spec: change(current.spec) } });
      return;
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 409) || attempt >= 10) throw error;
    }
  }
}
const holder = async () => (await lease()).spec?.holderIdentity as Name | undefined;
const other = (name: Name): Name => (name === 'forwarder-a' ? 'forwarder-b' : 'forwarder-a');
const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));

async function metricsOf(name: Name): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${instances.get(name)!.port}/metrics`)).text();
  const values: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^(forwarder_leader|forwarder_events_published_total|forwarder_queue_depth) (\S+)$/.exec(line);
    if (match) values[match[1]!] = Number(match[2]);
  }
  return values;
}

async function readyz(name: Name): Promise<boolean> {
  return (await fetch(`http://127.0.0.1:${instances.get(name)!.port}/readyz`)).ok;
}

/** The events published for CR `name` after `index` in the endpoint's record. */
const publishedSince = (index: number, name: string) =>
  endpoint.events.slice(index).filter((e) => e.detail.namespace === namespace && (e.detail.name === name || (e.detail.owner as { name?: string } | undefined)?.name === name));

beforeAll(async () => {
  await installCrd();
  endpoint = await EventBridgeEndpoint.start();
});
afterAll(() => endpoint?.close());

beforeEach(async () => {
  endpoint.setFaults(() => ({ kind: 'none' }));
  namespace = await createNamespace('fwd-leader');
  instances = new Map();
  for (const name of NAMES) {
    const port = await freePort();
    const env = forwarderEnvironment(endpoint, namespace, {
      LEADER_ELECTION: 'true',
      POD_NAME: name,
      POD_NAMESPACE: namespace,
      LEASE_NAME: LEASE,
      LEASE_DURATION_SECONDS: String(LEASE_DURATION_SECONDS),
      LEASE_RENEW_DEADLINE_SECONDS: '3',
      LEASE_RETRY_PERIOD_SECONDS: '0.5',
      HTTP_PORT: String(port),
      LOG_LEVEL: 'INFO',
    });
    instances.set(name, { process: spawnForwarder(env), port });
  }
  await eventually('both instances to be ready', async () => (await readyz('forwarder-a')) && (await readyz('forwarder-b')), { timeoutMs: 60_000 });
});
afterEach(async ({ task }) => {
  failed = task.result?.state === 'fail';
  for (const [name, { process }] of instances) {
    process.kill('SIGKILL');
    // The processes' own logs are the best clue to a failure.
    if (failed) console.log(`--- ${name}\n${process.output.join('')}`);
  }
  await deleteNamespace(namespace);
});

describe('two forwarders with leader election', () => {
  it('let exactly one publish', async () => {
    const leader = await eventually('a holder of the lease', holder);
    const cr = await createCr(namespace, 'first');

    await eventually('the event for the first CR', () => endpoint.has('first', cr.metadata.resourceVersion!));

    await eventually('the leader to count what it published', async () => (await metricsOf(leader)).forwarder_events_published_total! > 0);
    expect(await metricsOf(leader)).toMatchObject({ forwarder_leader: 1 });
    expect(await metricsOf(other(leader))).toMatchObject({ forwarder_leader: 0, forwarder_events_published_total: 0 });
  });

  describe('when the leader is killed with events still queued', () => {
    it('loses nothing: its successor lists every CR again and publishes each', async () => {
      const leader = await eventually('a holder of the lease', holder);
      const before = await createCr(namespace, 'published-before');
      await eventually('the first event', () => endpoint.has('published-before', before.metadata.resourceVersion!));
      endpoint.setFaults(() => ({ kind: 'server-error' }));
      // Queued in the leader: new CRs, and a change of a child of the earlier CR (a successor's first
      // list publishes no child: the CR's own event must cover it).
      const queued = [await createCr(namespace, 'queued-1'), await createCr(namespace, 'queued-2')];
      const ownerReferences = [{ apiVersion: 'groupsp.measutosh.dev/v1', kind: 'KindCustomHttp', name: 'published-before', uid: before.metadata.uid!, controller: true }];
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'published-before-configmap', labels: { 'app.kubernetes.io/managed-by': 'stimulated-peering' }, ownerReferences } } });
      await core.patchNamespacedConfigMap({ namespace, name: 'published-before-configmap', body: { data: { edited: 'by hand' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      await eventually('the leader to hold all three', async () => (await metricsOf(leader)).forwarder_queue_depth! >= 3);
      const sinceKill = endpoint.events.length;

      // The bus heals only once the killed leader is gone: a retry of its own landing in between
      // would be an event the test did not expect from it, not one the successor missed.
      const killed = instances.get(leader)!.process;
      const gone = new Promise((resolve) => killed.once('exit', resolve));
      killed.kill('SIGKILL');
      await gone;
      endpoint.setFaults(() => ({ kind: 'none' }));

      await eventually('the standby to hold the lease', async () => (await holder()) === other(leader), { timeoutMs: 30_000 });
      for (const cr of queued) {
        const current = await getCr(namespace, cr.metadata.name);
        await eventually(`an event for ${cr.metadata.name}`, () => endpoint.has(cr.metadata.name, current.metadata.resourceVersion!, 'Synced'), { timeoutMs: 30_000 });
      }
      // Every CR, not only those the dead leader held: whatever it held for them is covered too.
      expect(publishedSince(sinceKill, 'published-before').map((e) => e.detail.change)).toEqual(['Synced']);
    });
  });

  describe('when another holder takes the Lease while the leader lives', () => {
    it('the leader stops publishing, and once the Lease is free a leader publishes what changed meanwhile', async () => {
      const leader = await eventually('a holder of the lease', holder);

      await rewriteLease((spec) => ({ ...spec, holderIdentity: 'intruder', leaseDurationSeconds: 3600, renewTime: microTime() }));
      await eventually('the leader to step down', async () => (await metricsOf(leader)).forwarder_leader === 0, { timeoutMs: 10_000 });
      const meanwhile = await createCr(namespace, 'made-meanwhile');
      await rewriteLease((spec) => ({ ...spec, holderIdentity: undefined, leaseDurationSeconds: 1 }));

      await eventually('the CR made meanwhile', () => endpoint.has('made-meanwhile', meanwhile.metadata.resourceVersion!), { timeoutMs: 30_000 });
      expect(NAMES).toContain(await holder());
    });
  });

  describe('when the leader is told to stop', () => {
    it('sends what it still holds, hands the Lease over at once and exits cleanly', async () => {
      const leader = await eventually('a holder of the lease', holder);
      const { process } = instances.get(leader)!;
      // The bus refuses the event at first, so it is still queued when the signal comes.
      endpoint.setFaults(() => ({ kind: 'server-error' }));
      const refusedBefore = endpoint.requests.length;
      const last = await createCr(namespace, 'last');
      await eventually('the event to be tried and refused', () => endpoint.requests.length > refusedBefore);

      process.kill('SIGTERM');
      const signalledAt = Date.now();
      endpoint.setFaults(() => ({ kind: 'none' }));

      expect(await exited(process)).toBe(0);
      expect(endpoint.has('last', last.metadata.resourceVersion!)).toBe(true);
      await eventually('the standby to hold the lease', async () => (await holder()) === other(leader), { timeoutMs: 30_000 });
      // Released, not expired: the standby need not wait out a lease duration.
      expect(Date.now() - signalledAt).toBeLessThan(LEASE_DURATION_SECONDS * 1000);
    });
  });
});
