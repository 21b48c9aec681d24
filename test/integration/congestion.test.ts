// A slow API server (every answer held back by a proxy, as when the apiserver queues requests) is
// met with fewer writes at once, not with timeouts and retries: the functions' client, built as the
// functions build it, lowers its write limit, abandons no write, and the CRs converge.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFunctionEnvironment } from '../../functions/core/environment.js';
import { withDeadline } from '../../functions/core/kube-client.js';
import { reconcile } from '../../functions/core/reconciler.js';
import { lazyKubeApi } from '../../functions/core/runtime.js';
import { FreezableProxy } from '../support/freezable-proxy.js';
import { adminKubeClient, createNamespace, deleteNamespace, installCrd, kubeconfigPath } from '../support/kube.js';
import { createCr, missingChildren, silentLog } from '../support/operator.js';

let namespace: string;
let proxy: FreezableProxy;

beforeAll(async () => {
  await installCrd();
  namespace = await createNamespace('congestion');
  const server = new URL(adminKubeClient().endpoint.server);
  proxy = await FreezableProxy.start({ host: server.hostname, port: Number(server.port) });
});
afterAll(async () => {
  await proxy.close();
  await deleteNamespace(namespace);
});

const names = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

describe('when the API server slows down', () => {
  it('writes fewer at once, abandons none, and converges every CR', async () => {
    const api = await lazyKubeApi(readFunctionEnvironment({ KUBECONFIG: proxy.kubeconfigFor(kubeconfigPath()) }))();
    const limit = api.client.writeLimit!;
    const converge = (crs: string[]) =>
      withDeadline(Date.now() + 100_000, () => Promise.all(crs.map((name) => reconcile({ api, log: silentLog }, { namespace, name }))));
    const fast = names('fast', 20);
    const slow = names('slow', 30);
    await Promise.all([...fast, ...slow].map((name) => createCr(namespace, name)));

    // The limit learns what the API server's writes take when it is quick.
    await converge(fast);
    const learned = limit.limit;

    proxy.delayAnswers(1_500);
    const results = await converge(slow);
    proxy.delayAnswers(0);

    expect(limit.lowest).toBeLessThan(learned / 2);
    expect(api.client.counters.abandonedWrites).toBe(0);
    expect(results.map((result) => result.outcome)).toEqual(slow.map(() => 'converged'));
    for (const name of slow) expect(await missingChildren(namespace, name)).toEqual([]);
  });
});
