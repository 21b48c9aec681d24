// Two forwarder processes with Lease-based leader election: one publishes, the other stands by;
// killed, the leader is replaced and events flow again; sent SIGTERM, it drains and hands over.
import { CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/processes.js';
import { EventBridgeEndpoint } from '../support/eventbridge-endpoint.js';
import { forwarderEnvironment, spawnForwarder } from '../support/forwarder.js';
import { adminConfig, createNamespace, deleteNamespace, eventually, installCrd } from '../support/kube.js';
import { createCr } from '../support/operator.js';

const LEASE = 'forwarder-lease';
const leases = adminConfig().makeApiClient(CoordinationV1Api);
let namespace: string;
let endpoint: EventBridgeEndpoint;
const instances = new Map<string, { process: ChildProcess & { output: string[] }; port: number }>();

async function metricsOf(name: string): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${instances.get(name)!.port}/metrics`)).text();
  const values: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^(forwarder_leader|forwarder_events_published_total) (\S+)$/.exec(line);
    if (match) values[match[1]!] = Number(match[2]);
  }
  return values;
}

async function readyz(name: string): Promise<boolean> {
  return (await fetch(`http://127.0.0.1:${instances.get(name)!.port}/readyz`)).ok;
}

const lease = (): Promise<V1Lease> => leases.readNamespacedLease({ namespace, name: LEASE });
const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));

beforeAll(async () => {
  await installCrd();
  namespace = await createNamespace('fwd-leader');
  endpoint = await EventBridgeEndpoint.start();
  for (const name of ['forwarder-a', 'forwarder-b']) {
    const port = await freePort();
    const env = forwarderEnvironment(endpoint, namespace, {
      LEADER_ELECTION: 'true',
      POD_NAME: name,
      POD_NAMESPACE: namespace,
      LEASE_NAME: LEASE,
      LEASE_DURATION_SECONDS: '4',
      LEASE_RENEW_DEADLINE_SECONDS: '3',
      LEASE_RETRY_PERIOD_SECONDS: '0.5',
      HTTP_PORT: String(port),
      LOG_LEVEL: 'INFO',
    });
    instances.set(name, { process: spawnForwarder(env), port });
  }
  await eventually('both instances to be ready', async () => (await readyz('forwarder-a')) && (await readyz('forwarder-b')), { timeoutMs: 60_000 });
});
let failed = false;
afterEach(({ task }) => {
  failed ||= task.result?.state === 'fail';
});
afterAll(async () => {
  for (const [name, { process }] of instances) {
    process.kill('SIGKILL');
    // The processes' own logs are the best clue to a failure.
    if (failed) console.log(`--- ${name}\n${process.output.join('')}`);
  }
  await endpoint?.close();
  await deleteNamespace(namespace);
});

describe('two forwarders with leader election', () => {
  let leader: string;
  let standby: string;

  it('let exactly one publish', async () => {
    leader = await eventually('a holder of the lease', async () => (await lease()).spec?.holderIdentity);
    standby = leader === 'forwarder-a' ? 'forwarder-b' : 'forwarder-a';
    const cr = await createCr(namespace, 'first');

    await eventually('the event for the first CR', () => endpoint.has('first', cr.metadata.resourceVersion!));

    await eventually('the leader to count what it published', async () => (await metricsOf(leader)).forwarder_events_published_total! > 0);
    expect(await metricsOf(leader)).toMatchObject({ forwarder_leader: 1 });
    expect(await metricsOf(standby)).toEqual({ forwarder_leader: 0, forwarder_events_published_total: 0 });
  });

  describe('when the leader dies', () => {
    it('the standby takes the lease and publishes the changes made meanwhile', async () => {
      const transitionsBefore = (await lease()).spec?.leaseTransitions ?? 0;

      instances.get(leader)!.process.kill('SIGKILL');
      const cr = await createCr(namespace, 'second');

      await eventually('the standby to hold the lease', async () => (await lease()).spec?.holderIdentity === standby, { timeoutMs: 30_000 });
      await eventually('the event for the CR made after the leader died', () => endpoint.has('second', cr.metadata.resourceVersion!), { timeoutMs: 30_000 });
      expect((await lease()).spec?.leaseTransitions).toBeGreaterThan(transitionsBefore);
      expect(await metricsOf(standby)).toMatchObject({ forwarder_leader: 1 });
    });
  });

  describe('when the new leader is told to stop', () => {
    it('sends what it still holds, hands the lease back and exits cleanly', async () => {
      const { process } = instances.get(standby)!;
      // The bus refuses the event at first, so it is still queued when the signal comes.
      endpoint.setFaults(() => ({ kind: 'server-error' }));
      const refusedBefore = endpoint.requests.length;
      const last = await createCr(namespace, 'last');
      await eventually('the event to be tried and refused', () => endpoint.requests.length > refusedBefore);

      process.kill('SIGTERM');
      endpoint.setFaults(() => ({ kind: 'none' }));

      expect(await exited(process)).toBe(0);
      expect(endpoint.has('last', last.metadata.resourceVersion!)).toBe(true);
      expect((await lease()).spec?.holderIdentity).toBeUndefined();
    });
  });
});
