// The Lambda handlers as deployed: recorded EventBridge events in, converged cluster out; the
// scheduled resync repairs drift and reports it; failures take the path meant for them.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadClusterConfig } from '../../functions/core/cluster-access.js';
import { KubeApi, TransientApiError } from '../../functions/core/kube-api.js';
import { reconcile } from '../../functions/core/reconciler.js';
import { adminClients, createNamespace, deleteNamespace, eventually, installCrd, kubeconfigPath, kubectlOk } from '../support/kube.js';
import { createCr, operatorApi, readChildren, reconcileUntilReady, resourceVersions, silentLog } from '../support/operator.js';
import { ResyncIncompleteError } from '../../functions/core/resync.js';

type Handler = (event: unknown) => Promise<Record<string, unknown>>;
let reconcileHandler: Handler;
let resyncHandler: Handler;
let namespace: string;

/** A recorded event, retargeted at this test's namespace and CR. */
function recordedEvent(file: string, name: string, namespaceOverride?: string): Record<string, unknown> {
  const event = JSON.parse(readFileSync(new URL(`../events/${file}`, import.meta.url), 'utf8'));
  event.detail.namespace = namespaceOverride ?? namespace;
  if ('owner' in event.detail) event.detail.owner.name = name;
  else if (!file.includes('resync') && event.detail.name) event.detail.name = name;
  return event;
}

beforeAll(async () => {
  await installCrd();
  namespace = await createNamespace('functions');
  process.env.KUBECONFIG = kubeconfigPath();
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  reconcileHandler = (await import('../../functions/reconcile/handler.js')).handler as unknown as Handler;
  resyncHandler = (await import('../../functions/resync/handler.js')).handler as unknown as Handler;
});
afterAll(() => deleteNamespace(namespace));

describe('the reconcile handler', () => {
  it('converges the CR a recorded "created" event names', async () => {
    await createCr(namespace, 'from-event');

    const result = await reconcileHandler(recordedEvent('cr-created.json', 'from-event'));

    expect(result).toMatchObject({ outcome: 'converged' });
    expect((await readChildren(namespace, 'from-event')).deployment?.spec?.replicas).toBe(2);
  });

  it('repairs drift when a recorded "child changed" event arrives', async () => {
    await kubectlOk(['scale', '-n', namespace, 'deployment', 'from-event', '--replicas=7']);

    const result = await reconcileHandler(recordedEvent('child-changed.json', 'from-event'));

    expect(result).toMatchObject({ outcome: 'converged', changes: [expect.objectContaining({ kind: 'Deployment' })] });
    expect((await readChildren(namespace, 'from-event')).deployment?.spec?.replicas).toBe(2);
  });

  it('succeeds without doing anything for a CR that no longer exists', async () => {
    await expect(reconcileHandler(recordedEvent('cr-deleted.json', 'never-existed'))).resolves.toMatchObject({ outcome: 'not-found' });
  });

  it.each(['malformed-missing-name.json', 'malformed-unknown-source.json', 'malformed-bad-name.json'])(
    'drops the recorded %s without throwing, so it is not retried',
    async (file) => {
      const event = JSON.parse(readFileSync(new URL(`../events/${file}`, import.meta.url), 'utf8'));
      await expect(reconcileHandler(event)).resolves.toMatchObject({ outcome: 'malformed-event' });
    },
  );
});

describe('when the API server cannot be reached', () => {
  it('throws a transient error so the platform retries the event', async () => {
    // The real cluster's CA and token, aimed at a port nothing listens on.
    const config = loadClusterConfig({ mode: 'kubeconfig', path: kubeconfigPath() });
    config.loadFromClusterAndUser({ ...config.getCurrentCluster()!, server: 'https://127.0.0.1:1' }, config.getCurrentUser()!);
    const unreachable = new KubeApi(config);

    await expect(reconcile({ api: unreachable, log: silentLog }, { namespace, name: 'anything' })).rejects.toBeInstanceOf(TransientApiError);
  });
});

describe('the resync handler', () => {
  const names = ['resync-a', 'resync-b', 'resync-c'];
  const api = operatorApi();
  let resyncNamespace: string;
  const scheduled = () => {
    const event = recordedEvent('scheduled-resync.json', '');
    event.detail = { namespaces: [resyncNamespace] };
    return event;
  };

  beforeAll(async () => {
    resyncNamespace = await createNamespace('resync');
    await Promise.all(names.map((name) => createCr(resyncNamespace, name)));
  });
  afterAll(() => deleteNamespace(resyncNamespace));

  it('converges every CR it finds', async () => {
    const report = await resyncHandler(scheduled());
    expect(report).toMatchObject({ found: 3, converged: 3, drifted: 3, repaired: 9, failed: [], complete: true });
  });

  it('repairs drift made while no event was delivered, and says how much it found', async () => {
    await kubectlOk(['scale', '-n', resyncNamespace, 'deployment', 'resync-a', '--replicas=4']);
    await adminClients().core.deleteNamespacedService({ namespace: resyncNamespace, name: 'resync-b' });
    await kubectlOk(['patch', '-n', resyncNamespace, 'configmap', 'resync-b-configmap', '--type=merge', '-p', '{"data":{"hostports":"x,1"}}']);

    const report = await resyncHandler(scheduled());

    expect(report).toMatchObject({ found: 3, drifted: 2, repaired: 3, failed: [] });
    expect((await readChildren(resyncNamespace, 'resync-a')).deployment?.spec?.replicas).toBe(2);
    expect((await readChildren(resyncNamespace, 'resync-b')).service).toBeDefined();
  });

  it('changes no resourceVersion when nothing drifted', async () => {
    await Promise.all(names.map((name) => reconcileUntilReady(api, resyncNamespace, name)));
    const before = await Promise.all(names.map((name) => resourceVersions(resyncNamespace, name)));

    const report = await resyncHandler(scheduled());

    expect(report).toMatchObject({ drifted: 0, repaired: 0 });
    expect(await Promise.all(names.map((name) => resourceVersions(resyncNamespace, name)))).toEqual(before);
  });

  it('keeps going past a CR it cannot converge, and fails the run so it is retried', async () => {
    await adminClients().core.createNamespacedResourceQuota({ namespace: resyncNamespace, body: { metadata: { name: 'services' }, spec: { hard: { services: '3' } } } });
    await eventually('the quota to be counted', async () => (await adminClients().core.readNamespacedResourceQuota({ namespace: resyncNamespace, name: 'services' })).status?.used?.services === '3');
    await createCr(resyncNamespace, 'over-quota');
    await kubectlOk(['scale', '-n', resyncNamespace, 'deployment', 'resync-c', '--replicas=3']);

    const failure = await resyncHandler(scheduled()).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(ResyncIncompleteError);
    expect((failure as ResyncIncompleteError).report).toMatchObject({ found: 4, drifted: 1, failed: [expect.objectContaining({ name: 'over-quota', error: expect.stringMatching(/exceeded quota/) })] });
    expect((await readChildren(resyncNamespace, 'resync-c')).deployment?.spec?.replicas).toBe(2);
  });
});
