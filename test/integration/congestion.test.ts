// A slow API server (every answer held back by a proxy, as when the apiserver queues requests) is
// met with fewer writes at once, not with timeouts and retries: the functions' client, built as the
// functions build it, lowers its write limit, abandons no write, and the CRs converge. And an
// invocation whose time is running out hands a CR back to the queue rather than start writes the
// API server would not answer in time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFunctionEnvironment } from '../../functions/core/environment.js';
import { withDeadline } from '../../functions/core/kube-client.js';
import { reconcile } from '../../functions/core/reconciler.js';
import { lazyKubeApi } from '../../functions/core/runtime.js';
import { FreezableProxy } from '../support/freezable-proxy.js';
import { lambdaContext, loadHandlers, recordedEvent, sqsBatch } from '../support/functions.js';
import { adminKubeClient, createNamespace, deleteNamespace, installCrd, kubeconfigPath, reconcilerKubeconfigPath } from '../support/kube.js';
import { createCr, missingChildren, readChildren, silentLog } from '../support/operator.js';

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
    // The configured floor (10 by default) would hide how far the limit itself goes down.
    const env = readFunctionEnvironment({ KUBECONFIG: proxy.kubeconfigFor(kubeconfigPath()), KUBE_API_MIN_WRITES_IN_FLIGHT: '1' });
    const api = await lazyKubeApi(env)();
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

    // Where latency rises this much, each write moves the limit a tenth of the way towards eight
    // in flight (the gradient's floor of one half, plus its queue allowance of four).
    expect(limit.lowest, `learned ${learned}`).toBeLessThanOrEqual(Math.floor(learned * 0.75));
    expect(api.client.counters.abandonedWrites).toBe(0);
    expect(results.map((result) => result.outcome)).toEqual(slow.map(() => 'converged'));
    for (const name of slow) expect(await missingChildren(namespace, name)).toEqual([]);
  });
});

describe('when an invocation has less time left than a reconcile has lately taken', () => {
  it('hands the CR back to the queue without sending anything, and a later invocation converges it', async () => {
    const { reconcile: handler } = await loadHandlers(proxy.kubeconfigFor(reconcilerKubeconfigPath()));
    const batchFor = (name: string) => sqsBatch([recordedEvent('cr-created.json', namespace, name)]);
    await Promise.all(['while-slow', 'late'].map((name) => createCr(namespace, name)));

    // While the API server answers in 1.5 s, a reconcile (reads, then writes, then the status) takes seconds.
    proxy.delayAnswers(1_500);
    expect(await handler(batchFor('while-slow'), lambdaContext(60_000))).toEqual({ batchItemFailures: [] });
    proxy.delayAnswers(0);

    // 3 s left after the handler's 5 s margin: a quick API server would do it, but the latest took longer.
    expect(await handler(batchFor('late'), lambdaContext(8_000))).toEqual({ batchItemFailures: [{ itemIdentifier: 'message-0' }] });
    expect(await readChildren(namespace, 'late')).toEqual({});

    expect(await handler(batchFor('late'), lambdaContext(60_000))).toEqual({ batchItemFailures: [] });
    expect(await missingChildren(namespace, 'late')).toEqual([]);
  });
});
