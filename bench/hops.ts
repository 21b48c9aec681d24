// Where one CR's time goes on the local stack, hop by hop: apply -> the CR seen by a watch -> its
// event accepted by the bus -> the reconcile invoked -> its children seen -> its Deployment's pods
// ready -> the Deployment's event on the bus -> the second reconcile -> the CR Ready. CRs are
// applied one at a time, each after the previous is Ready, so nothing queues behind another.
// `npx tsx bench/hops.ts [crs]` against the running local cluster (`npm run cluster:up`).
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childKindInfo, childKinds, collectionPath } from '../functions/core/children.js';
import { clusterEndpoint } from '../functions/core/cluster-endpoint.js';
import { GROUP, PLURAL, VERSION, type KindCustomHttp } from '../functions/core/kindcustomhttp.js';
import { KubeClient, PatchType } from '../functions/core/kube-client.js';
import { runningCluster } from '../infra/local/cluster/index.js';
import { installCrd } from '../infra/local/crd.js';
import { functionsKubeconfig, installReconcilerAccess } from '../infra/local/reconciler-access.js';
import { LocalStack, type StackLine } from '../infra/local/stack.js';
import { BURST_SPEC } from './floor.js';
import { deleteNamespaceAndWait, percentile, round } from './stats.js';

type Moments = Map<string, number>;
const hops = ['crSeen', 'busCr', 'invoked1', 'reconciled1', 'children', 'deploymentReady', 'busDeployment', 'invoked2', 'reconciled2', 'ready'] as const;
type Hop = (typeof hops)[number];

export async function measureHops(kubeconfig: string, functionsConfig: string, crs: number, forwarderEnv?: Record<string, string>): Promise<Record<string, number>> {
  const client = new KubeClient(clusterEndpoint({ mode: 'kubeconfig', path: kubeconfig }), { timeoutMs: 30_000 });
  const namespace = `bench-hops-${Date.now().toString(36)}`;
  await client.request('/api/v1/namespaces', { method: 'POST', body: { metadata: { name: namespace } } });
  const at = new Map<Hop, Moments>(hops.map((hop) => [hop, new Map()]));
  const mark = (hop: Hop, name: string) => {
    const moments = at.get(hop)!;
    if (!moments.has(name)) moments.set(name, Date.now());
  };
  const reconciles = new Map<string, number>();
  const onLine = (line: StackLine) => {
    const json = line.json;
    if (line.source === 'functions' && json?.message === 'reconciled' && json.namespace === namespace) {
      const name = String(json.name);
      const count = (reconciles.get(name) ?? 0) + 1;
      reconciles.set(name, count);
      if (count === 1) mark('reconciled1', name);
      if (json.ready === true) mark('reconciled2', name);
    }
    if (line.source === 'functions' && json?.message === 'invocation started' && json.namespace === namespace) mark(reconciles.has(String(json.name)) ? 'invoked2' : 'invoked1', String(json.name));
  };
  const stack = await LocalStack.start({
    kubeconfig,
    functionsKubeconfig: functionsConfig,
    logDir: join(tmpdir(), namespace),
    forwarderEnv,
    onLine,
    onBusEvent: (event) => {
      const detail = event.detail as { namespace?: string; name?: string; kind?: string; owner?: { name: string } };
      if (detail.namespace !== namespace) return;
      if (detail.owner) {
        if (detail.kind === 'Deployment' && at.get('deploymentReady')!.has(detail.owner.name)) mark('busDeployment', detail.owner.name);
      } else if (detail.name) mark('busCr', detail.name);
    },
  });
  const stopping = new AbortController();
  const watch = (path: string, onObject: (object: Record<string, unknown> & { metadata: { name: string } }) => void) =>
    client.stream(path, { query: { watch: true }, idleTimeoutMs: 3_600_000, signal: stopping.signal, onLine: (text) => onObject(JSON.parse(text).object) }).catch(() => undefined);
  const seen = new Map<string, Set<string>>();
  const watches = [
    watch(`/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`, (object) => {
      const cr = object as unknown as KindCustomHttp;
      mark('crSeen', cr.metadata.name);
      if (cr.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === cr.metadata.generation)) mark('ready', cr.metadata.name);
    }),
    ...childKinds.map((kind) =>
      watch(collectionPath(childKindInfo[kind], namespace), (object) => {
        const name = kind === 'ConfigMap' ? object.metadata.name.replace(/-configmap$/, '') : object.metadata.name;
        const kinds = seen.get(name) ?? new Set();
        seen.set(name, kinds.add(kind));
        if (kinds.size === childKinds.length) mark('children', name);
        const status = object.status as { readyReplicas?: number; updatedReplicas?: number } | undefined;
        if (kind === 'Deployment' && status?.readyReplicas === BURST_SPEC.replicaCount) mark('deploymentReady', name);
      }),
    ),
  ];
  const applied = new Map<string, number>();
  const apply = async (name: string) => {
    applied.set(name, Date.now());
    const body = { apiVersion: `${GROUP}/${VERSION}`, kind: 'KindCustomHttp', metadata: { name, namespace }, spec: BURST_SPEC };
    await client.request(`/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}/${name}`, { method: 'PATCH', query: { fieldManager: 'kubectl', force: true }, body, contentType: PatchType.apply });
  };
  const waitReady = async (name: string) => {
    const deadline = Date.now() + 120_000;
    while (!at.get('ready')!.has(name)) {
      if (Date.now() > deadline) throw new Error(`${name} not Ready after 120 s`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // Let the last events of this CR pass before the next.
    await new Promise((resolve) => setTimeout(resolve, 500));
  };
  try {
    await apply('warm-up');
    await waitReady('warm-up');
    const names = Array.from({ length: crs }, (_, i) => `hop-${i}`);
    for (const name of names) {
      await apply(name);
      await waitReady(name);
    }
    const figures: Record<string, number> = {};
    let previous: Moments = applied;
    let previousHop = 'apply';
    for (const hop of hops) {
      const moments = at.get(hop)!;
      const complete = names.filter((name) => moments.has(name) && previous.has(name));
      if (complete.length > 0) {
        figures[`hops.${previousHop}_to_${hop}.p50_ms`] = round(percentile(complete.map((name) => moments.get(name)! - previous.get(name)!), 50));
        figures[`hops.apply_to_${hop}.p50_ms`] = round(percentile(complete.map((name) => moments.get(name)! - applied.get(name)!), 50));
        previous = moments;
        previousHop = hop;
      }
    }
    return figures;
  } finally {
    stopping.abort();
    await Promise.allSettled(watches);
    await stack.stop();
    await deleteNamespaceAndWait(client, namespace);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const kubeconfig = process.env.TEST_KUBECONFIG ?? runningCluster()?.kubeconfig;
  if (!kubeconfig) throw new Error('no local cluster running: npm run cluster:up');
  await installCrd(kubeconfig);
  const asFunctions = functionsKubeconfig(process.env.TEST_KUBECONFIG) ?? kubeconfig;
  await installReconcilerAccess(kubeconfig, asFunctions === kubeconfig ? undefined : asFunctions);
  const figures = await measureHops(kubeconfig, asFunctions, Number(process.argv[2] ?? 20));
  for (const [key, value] of Object.entries(figures)) console.log(`${key.padEnd(60)} ${value}`);
}
