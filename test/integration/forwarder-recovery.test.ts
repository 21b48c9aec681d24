// Watch discipline against the real control plane: a connection that goes silent is noticed and
// replaced, and an apiserver restart in the middle of changes loses none of them.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { KindCustomHttp } from '../../functions/core/kindcustomhttp.js';
import type { ForwarderHandle } from '../../functions/forwarder/forwarder.js';
import { restartApiserver } from '../../infra/local/cluster/index.js';
import { EventBridgeEndpoint } from '../support/eventbridge-endpoint.js';
import { FreezableProxy } from '../support/freezable-proxy.js';
import { metric, startTestForwarder } from '../support/forwarder.js';
import { adminConfig, createNamespace, deleteNamespace, eventually, installCrd, kubeconfigPath } from '../support/kube.js';
import { createCr, getCr, patchCrSpec } from '../support/operator.js';

let endpoint: EventBridgeEndpoint;

beforeAll(async () => {
  await installCrd();
  endpoint = await EventBridgeEndpoint.start();
});
afterAll(() => endpoint?.close());

describe('the forwarder', () => {
  describe('when the connection of its watches goes silent without closing', () => {
    let namespace: string;
    let proxy: FreezableProxy;
    let forwarder: ForwarderHandle;

    beforeAll(async () => {
      namespace = await createNamespace('fwd-silent');
      const server = new URL(adminConfig().getCurrentCluster()!.server);
      proxy = await FreezableProxy.start({ host: server.hostname, port: Number(server.port) });
      forwarder = await startTestForwarder(endpoint, namespace, { KUBECONFIG: proxy.kubeconfigFor(kubeconfigPath()), WATCH_SILENCE_SECONDS: '3' });
      const cr = await createCr(namespace, 'quiet');
      await eventually('the watch to deliver', () => endpoint.has('quiet', cr.metadata.resourceVersion!));
    });
    afterAll(async () => {
      await forwarder?.shutdown();
      await proxy?.close();
      await deleteNamespace(namespace);
    });

    it('restarts the watch and delivers the changes the dead connection held back', async () => {
      const restartsBefore = await metric(forwarder, 'forwarder_watch_restarts_total', { reason: 'silent' });
      expect(proxy.freezeOpenConnections()).toBeGreaterThan(0);

      await patchCrSpec(namespace, 'quiet', { replicaCount: 4 });
      const changed = await getCr(namespace, 'quiet');

      await eventually('the change behind the frozen watch', () => endpoint.has('quiet', changed.metadata.resourceVersion!, 'Modified'), { timeoutMs: 60_000 });
      expect(await metric(forwarder, 'forwarder_watch_restarts_total', { reason: 'silent' })).toBeGreaterThan(restartsBefore);
    });
  });

  describe.runIf(inject('localCluster'))('when the apiserver restarts while CRs keep changing', () => {
    const names = ['a', 'b', 'c', 'd', 'e'];
    let namespace: string;
    let forwarder: ForwarderHandle;

    beforeAll(async () => {
      namespace = await createNamespace('fwd-restart');
      const created: KindCustomHttp[] = [];
      for (const name of names) created.push(await createCr(namespace, name));
      forwarder = await startTestForwarder(endpoint, namespace);
      // Listed and watching before the restart, so that it is the watch that must recover.
      await eventually('the initial sync', () => created.every((cr) => endpoint.has(cr.metadata.name, cr.metadata.resourceVersion!, 'Synced')));
    });
    afterAll(async () => {
      await forwarder?.shutdown();
      await deleteNamespace(namespace);
    });

    it('publishes an event for every CR\'s final version once it is back', async () => {
      // A change of each CR seen through the watch first, so that it is a live watch that breaks.
      for (const name of names) await patchCrSpec(namespace, name, { replicaCount: 7 });
      const watched = await Promise.all(names.map((name) => getCr(namespace, name)));
      await eventually('the changes before the restart', () => watched.every((cr) => endpoint.has(cr.metadata.name, cr.metadata.resourceVersion!, 'Modified')));
      let restarted = false;
      let successfulAfter = 0;
      let round = 0;
      const restarting = restartApiserver(3_000).then(() => (restarted = true));
      // Changes before, during (they fail and are retried) and after the restart.
      while (!restarted || successfulAfter < 2 * names.length) {
        const name = names[round % names.length]!;
        round += 1;
        try {
          await patchCrSpec(namespace, name, { replicaCount: round % 50 });
          if (restarted) successfulAfter += 1;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
      await restarting;
      const finals = await Promise.all(names.map(async (name) => [name, (await getCr(namespace, name)).metadata.resourceVersion!] as const));

      await eventually('an event for every final version', () => finals.every(([name, version]) => endpoint.has(name, version)), { timeoutMs: 60_000 });
      expect(await metric(forwarder, 'forwarder_watch_restarts_total', { resource: `KindCustomHttp/${namespace}` })).toBeGreaterThan(0);
    });
  });
});
