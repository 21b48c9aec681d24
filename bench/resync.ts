// The resync at scale on the local control plane: thousands of unchanged CRs checked from lists
// (requests and writes counted by the apiserver itself, not by the client), then 1 % of them
// drifted by hand (Services deleted, Deployments scaled, ConfigMaps edited) and repaired.
import { clusterEndpoint } from '../functions/core/cluster-endpoint.js';
import { childKindInfo, childKinds, isWanted, objectPath, type ChildKind } from '../functions/core/children.js';
import { checkSpec, defaultImagePolicy } from '../functions/core/images.js';
import { forEachBounded } from '../functions/core/concurrency.js';
import { GROUP, PLURAL, VERSION } from '../functions/core/kindcustomhttp.js';
import { KubeApi } from '../functions/core/kube-api.js';
import { KubeClient, PatchType } from '../functions/core/kube-client.js';
import { resync, type ResyncReport } from '../functions/core/resync.js';
import { apiserverRequests } from '../infra/local/apiserver-metrics.js';
import { deleteNamespaceAndWait, round, timed } from './stats.js';

const silent = { info: () => {}, warn: () => {} };
const ourResources = [PLURAL, ...childKinds.map((kind) => childKindInfo[kind].plural)];
const writeVerbs = ['POST', 'PUT', 'PATCH', 'APPLY', 'DELETE'];
const SPEC = { port: 80, replicaCount: 0, configMapData: { hostports: 'localhost,8080\n' } };
const resolved = (() => {
  const parsed = checkSpec(SPEC, defaultImagePolicy);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.spec;
})();
/** Drift made by hand: these kinds get a field changed, the others are deleted. */
const handEdits: Partial<Record<ChildKind, object>> = { Deployment: { spec: { replicas: 2 } }, ConfigMap: { data: { hostports: 'edited,1\n' } } };

/** The apiserver's count of requests on the CRs and their children, and of writes among them. */
async function served(client: KubeClient): Promise<{ requests: number; writes: number }> {
  let requests = 0;
  let writes = 0;
  for (const resource of ourResources) {
    for (const verb of ['GET', 'LIST', ...writeVerbs]) {
      const count = await apiserverRequests(client, { resource, verb });
      requests += count;
      if (writeVerbs.includes(verb)) writes += count;
    }
  }
  return { requests, writes };
}

export async function benchResync(kubeconfig: string, crs: number): Promise<Record<string, number>> {
  const client = new KubeClient(clusterEndpoint({ mode: 'kubeconfig', path: kubeconfig }), { timeoutMs: 60_000 });
  const api = new KubeApi(client);
  const namespace = `bench-resync-${Date.now().toString(36)}`;
  const run = (concurrency = 8) => resync({ api, log: silent }, { namespaces: [namespace], pageSize: 500, concurrency, timeLeft: () => 600_000 });
  await client.request('/api/v1/namespaces', { method: 'POST', body: { metadata: { name: namespace } } });
  try {
    const names = Array.from({ length: crs }, (_, i) => `cr-${i}`);
    await forEachBounded(names, 32, async (name) => {
      const body = { apiVersion: `${GROUP}/${VERSION}`, kind: 'KindCustomHttp', metadata: { name }, spec: SPEC };
      await client.request(`/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`, { method: 'POST', body });
    });
    // The resync itself creates the children, then settles the statuses.
    const setup: ResyncReport[] = [];
    while (setup.length < 6 && setup.at(-1)?.drifted !== 0) setup.push(await run(32));
    if (setup.at(-1)?.drifted !== 0) throw new Error(`the ${crs} CRs did not settle: ${JSON.stringify(setup.at(-1))}`);

    const before = await served(client);
    const unchanged = await timed(() => run());
    const after = await served(client);

    // Each of the kinds these CRs have in turn: a field changed where one is named here, else the child deleted.
    const kinds = childKinds.filter((kind) => isWanted(kind, resolved));
    const driftedNames = names.filter((_, i) => i % 100 === 0);
    await forEachBounded(driftedNames, 16, async (name) => {
      const kind = kinds[(Number(name.slice(3)) / 100) % kinds.length]!;
      const path = objectPath(childKindInfo[kind], namespace, childKindInfo[kind].name(name));
      const edit = handEdits[kind];
      await client.request(path, edit ? { method: 'PATCH', body: edit, contentType: PatchType.merge } : { method: 'DELETE' });
    });
    const repair = await timed(() => run());

    return {
      'resync.crs': crs,
      'resync.unchanged.seconds': round(unchanged.ms / 1000, 2),
      'resync.unchanged.apiserver_requests': after.requests - before.requests,
      'resync.unchanged.apiserver_writes': after.writes - before.writes,
      'resync.unchanged.drifted': unchanged.result.drifted,
      'resync.drift.crs_drifted_by_hand': driftedNames.length,
      'resync.drift.seconds': round(repair.ms / 1000, 2),
      'resync.drift.reported_drifted': repair.result.drifted,
      'resync.drift.reported_repaired': repair.result.repaired,
      'resync.drift.failed': repair.result.failed.length,
      'resync.drift.not_reached': repair.result.notReached,
    };
  } finally {
    await deleteNamespaceAndWait(client, namespace);
  }
}
