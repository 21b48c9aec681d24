// Direct access to the local control plane's etcd, through its v3 HTTP gateway, for what only etcd
// can do: compacting its history, as a long-running cluster does.
//
// What a client then sees (test/integration/control-plane.test.ts shows each): a read at an exact
// resourceVersion that compaction removed answers 410 Gone once the apiserver's watch cache has no
// snapshot of it (after restartApiserver). Watches are served from the watch cache's own window,
// which compaction does not shorten: a watch resumed from an old resourceVersion answers 410 when
// that window has moved past it, which restartApiserver brings about with or without compaction.
import { requireRunning } from './control-plane.js';
import type { ClusterState } from './state.js';

async function etcdCall<T>(state: ClusterState, path: string, body: object): Promise<T> {
  const response = await fetch(`http://127.0.0.1:${state.ports.etcdClient}/v3/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  if (!response.ok) throw new Error(`etcd ${path} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}

/** Compacts etcd up to its current revision; returns that revision. */
export async function compactEtcd(state: ClusterState = requireRunning()): Promise<number> {
  // Any range answers with the store's current revision in its header; a key nobody uses costs nothing.
  const range = await etcdCall<{ header: { revision: string } }>(state, 'kv/range', { key: Buffer.from('/compaction-probe').toString('base64') });
  const revision = Number(range.header.revision);
  // physical: answer once the compaction is applied, not merely scheduled.
  await etcdCall(state, 'kv/compaction', { revision, physical: true });
  return revision;
}
