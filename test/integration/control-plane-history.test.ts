// The local control plane when its history is gone: an apiserver restarted (its watch cache starts
// anew) and etcd compacted. The forwarder's tests rely on both behaving as a real cluster's do.
import { ApiException, Watch } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { compactEtcd, restartApiserver } from '../../infra/local/cluster/index.js';
import { adminClients, adminConfig, createNamespace, deleteNamespace } from '../support/kube.js';

let namespace: string;
const { core } = adminClients();

beforeAll(async () => {
  namespace = await createNamespace('history');
});
afterAll(async () => {
  await deleteNamespace(namespace);
});

/** A ConfigMap changed a few times; returns the resourceVersion it was created at. */
async function configMapWithHistory(namespace: string, name: string): Promise<string> {
  const created = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name }, data: { step: '0' } } });
  for (const step of ['1', '2', '3']) await core.patchNamespacedConfigMap({ namespace, name, body: [{ op: 'replace', path: '/data/step', value: step }] });
  return created.metadata!.resourceVersion!;
}

/** The ConfigMaps of a namespace as they were at exactly `resourceVersion`, or the HTTP status of the refusal. */
function listAt(namespace: string, resourceVersion: string): Promise<{ steps: string[] } | { code: number }> {
  return core.listNamespacedConfigMap({ namespace, resourceVersion, resourceVersionMatch: 'Exact' }).then(
    (list) => ({ steps: list.items.flatMap((item) => (item.data?.step ? [item.data.step] : [])) }),
    (error: ApiException<unknown>) => ({ code: error.code }),
  );
}

/** What a watch from `resourceVersion` answers first: an event, or the HTTP status it was refused with. */
async function firstWatchAnswer(path: string, resourceVersion: string): Promise<{ type: string; code?: number }> {
  let stop: AbortController | undefined;
  const answer = new Promise<{ type: string; code?: number }>((resolve) => {
    void new Watch(adminConfig())
      .watch(
        path,
        { resourceVersion },
        (type, object: { code?: number }) => resolve({ type, code: type === 'ERROR' ? object.code : undefined }),
        (error: { statusCode?: number } | null) => resolve({ type: 'closed', code: error?.statusCode }),
      )
      .then((controller) => (stop = controller));
  });
  const result = await answer;
  stop?.abort();
  return result;
}

describe.runIf(inject('localCluster'))('the local control plane, when its history is gone', () => {
  // The apiserver serves watches from its watch cache, whose window starts when the apiserver
  // does; reads at an exact older resourceVersion that the cache has no snapshot of go to etcd.
  it('answers 410 Gone to a watch resumed from before an apiserver restart, though etcd still has that history', async () => {
    const old = await configMapWithHistory(namespace, 'before-restart');

    await restartApiserver();

    expect(await firstWatchAnswer(`/api/v1/namespaces/${namespace}/configmaps`, old)).toEqual({ type: 'ERROR', code: 410 });
    expect(await listAt(namespace, old)).toEqual({ steps: ['0'] });
  });

  it('answers 410 Gone to a read at a resourceVersion that compacting etcd removed, while the watch cache still serves watches from it', async () => {
    const old = await configMapWithHistory(namespace, 'compacted');

    await compactEtcd();
    const watched = await firstWatchAnswer(`/api/v1/namespaces/${namespace}/configmaps`, old);
    await restartApiserver();

    expect(watched.type).toBe('MODIFIED');
    expect(await listAt(namespace, old)).toEqual({ code: 410 });
  });
});
