// The Lambda handlers as deployed: recorded events in (bare, or in SQS batches as the queue behind
// the bus rule delivers them), converged cluster out; failures take the path meant for them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcile } from '../../functions/core/reconciler.js';
import { KubeApi } from '../../functions/core/kube-api.js';
import { NoAnswerError } from '../../functions/core/kube-client.js';
import { FreezableProxy } from '../support/freezable-proxy.js';
import { lambdaContext, loadHandlers, readEvent, recordedEvent as recorded, sqsBatch } from '../support/functions.js';
import { adminKubeClient, apiserverRequests, createNamespace, deleteNamespace, installCrd, kubectlOk, reconcilerKubeconfigPath, uniqueName } from '../support/kube.js';
import { condition, createCr, getCr, readChildren, silentLog } from '../support/operator.js';

let namespace: string;
const recordedEvent = (file: string, name: string) => recorded(file, namespace, name);

beforeAll(async () => {
  await installCrd();
  namespace = await createNamespace('functions');
});
afterAll(() => deleteNamespace(namespace));

describe('the reconcile handler', () => {
  it('converges the CR a recorded "created" event names', async () => {
    const { reconcile: handler } = await loadHandlers();
    const name = uniqueName('created');
    await createCr(namespace, name);

    const result = await handler(recordedEvent('cr-created.json', name));

    expect(result).toMatchObject({ outcome: 'converged' });
    expect((await readChildren(namespace, name)).Deployment?.spec?.replicas).toBe(2);
  });

  it('repairs drift when a recorded "child changed" event arrives', async () => {
    const { reconcile: handler } = await loadHandlers();
    const name = uniqueName('drifted');
    await createCr(namespace, name);
    await handler(recordedEvent('cr-created.json', name));
    await kubectlOk(['scale', '-n', namespace, 'deployment', name, '--replicas=7']);

    const result = await handler(recordedEvent('child-changed.json', name));

    expect(result).toMatchObject({ outcome: 'converged', changes: [expect.objectContaining({ kind: 'Deployment', action: 'updated' })] });
    expect((await readChildren(namespace, name)).Deployment?.spec?.replicas).toBe(2);
  });

  it('succeeds without doing anything for a CR that no longer exists', async () => {
    const { reconcile: handler } = await loadHandlers();

    await expect(handler(recordedEvent('cr-deleted.json', 'never-existed'))).resolves.toMatchObject({ outcome: 'not-found' });
  });

  it.each(['malformed-missing-name.json', 'malformed-unknown-source.json', 'malformed-bad-name.json'])(
    'drops the recorded %s without throwing, so it is not retried',
    async (file) => {
      const { reconcile: handler } = await loadHandlers();
      const event = readEvent(file);

      await expect(handler(event)).resolves.toMatchObject({ outcome: 'malformed-event' });
    },
  );

  describe('when the queue delivers a batch', () => {
    it('reconciles each CR once however many of its events the batch holds, and hands nothing back', async () => {
      const { reconcile: handler } = await loadHandlers();
      const [first, second] = [uniqueName('batch-a'), uniqueName('batch-b')];
      await Promise.all([createCr(namespace, first), createCr(namespace, second)]);
      const malformed = readEvent('malformed-bad-name.json');
      const events = [recordedEvent('cr-created.json', first), recordedEvent('child-changed.json', first), recordedEvent('cr-updated.json', first), recordedEvent('cr-created.json', second), malformed];
      const readsBefore = await apiserverRequests({ verb: 'GET', resource: 'kindcustomhttps' });

      const response = await handler(sqsBatch(events));

      expect(response).toEqual({ batchItemFailures: [] });
      expect((await apiserverRequests({ verb: 'GET', resource: 'kindcustomhttps' })) - readsBefore).toBe(2);
      for (const name of [first, second]) expect((await readChildren(namespace, name)).ConfigMap).toBeDefined();
    });

    it('reports a CR that cannot converge for good on the CR, and hands nothing back to the queue', async () => {
      const { reconcile: handler } = await loadHandlers();
      const name = uniqueName('invalid');
      await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'groupsp.measutosh.dev/v1', kind: 'KindCustomHttp', metadata: { name, namespace }, spec: { port: 80, replicaCount: 1, configMapData: { 'bad/key': 'x' } } }));

      const response = await handler(sqsBatch([recordedEvent('cr-created.json', name)]));

      expect(response).toEqual({ batchItemFailures: [] });
      expect(condition(await getCr(namespace, name), 'Degraded')).toMatchObject({ status: 'True', reason: 'InvalidSpec' });
    });
  });

  describe('when the API server is down for longer than the invocation can retry', () => {
    let proxy: FreezableProxy;

    beforeAll(async () => {
      const server = new URL(adminKubeClient().endpoint.server);
      proxy = await FreezableProxy.start({ host: server.hostname, port: Number(server.port) });
    });
    afterAll(() => proxy.close());

    it('hands the records back to the queue, and converges when the queue delivers them again', async () => {
      const { reconcile: handler } = await loadHandlers(proxy.kubeconfigFor(reconcilerKubeconfigPath()));
      const name = uniqueName('outage');
      await createCr(namespace, name);
      const batch = sqsBatch([recordedEvent('cr-created.json', name), recordedEvent('child-changed.json', name)]);
      proxy.goDown();

      // 5 s are kept back for answering, so this invocation retries for about 2 s.
      const during = await handler(batch, lambdaContext(7_000));
      proxy.recover();
      const redelivered = await handler(batch, lambdaContext(30_000));

      expect(during).toEqual({ batchItemFailures: [{ itemIdentifier: 'message-0' }, { itemIdentifier: 'message-1' }] });
      expect(redelivered).toEqual({ batchItemFailures: [] });
      expect((await readChildren(namespace, name)).Deployment).toBeDefined();
    });

    it('throws a transient error from the core, for the caller to retry', async () => {
      proxy.goDown();
      const unreachable = new KubeApi(adminKubeClient({ kubeconfig: proxy.kubeconfigFor(reconcilerKubeconfigPath()) }));

      const failure = await reconcile({ api: unreachable, log: silentLog }, { namespace, name: 'anything' }).catch((error: unknown) => error);
      proxy.recover();

      expect(failure).toBeInstanceOf(NoAnswerError);
    });
  });
});

describe('the resync handler', () => {
  /** The schedule's recorded input, narrowed to one namespace. */
  function scheduled(resyncNamespace: string) {
    const event = readEvent('scheduled-resync.json');
    event.detail = { namespaces: [resyncNamespace] };
    return event;
  }

  it('converges every CR it finds, and reports what drifted', async () => {
    const { resync: handler } = await loadHandlers();
    const resyncNamespace = await createNamespace('resync');
    await Promise.all(['a', 'b', 'c'].map((name) => createCr(resyncNamespace, name)));

    const report = await handler(scheduled(resyncNamespace));

    expect(report).toMatchObject({ checked: 3, drifted: 3, repaired: 3, failed: [], notReached: 0 });
    await deleteNamespace(resyncNamespace);
  });

  it('reports a CR it cannot converge for good as degraded, without failing the run', async () => {
    const { resync: handler } = await loadHandlers();
    const resyncNamespace = await createNamespace('resync-quota');
    await adminKubeClient().request(`/api/v1/namespaces/${resyncNamespace}/resourcequotas`, { method: 'POST', body: { metadata: { name: 'no-services' }, spec: { hard: { services: '0' } } } });
    await createCr(resyncNamespace, 'over-quota');

    const report = await handler(scheduled(resyncNamespace));

    expect(report).toMatchObject({ checked: 1, drifted: 1, degraded: 1, failed: [] });
    expect(condition(await getCr(resyncNamespace, 'over-quota'), 'Degraded')).toMatchObject({ status: 'True', reason: 'QuotaExceeded' });
    await deleteNamespace(resyncNamespace);
  });
});
