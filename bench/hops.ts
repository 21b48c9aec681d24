// One CR at a time through `npm start`'s stack (the forwarder in pods on the real node when the
// cluster has one, as `npm start` runs it), and where its time goes, hop by hop, each moment from a
// watch or from the stack itself: apply -> the CR seen by a watch -> its event accepted by the bus
// -> the first reconcile done -> all its children seen -> the Deployment's pods ready (the control
// plane's own rollout) -> the Deployment's event on the bus -> the second reconcile done -> the CR
// Ready. Each CR is applied once the previous is Ready, so nothing queues behind another.
// `npx tsx bench/hops.ts [crs]` against the running local cluster (`npm run cluster:up`).
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childKindInfo, childKinds, collectionPath, type ChildKind } from '../functions/core/children.js';
import { clusterEndpoint } from '../functions/core/cluster-endpoint.js';
import { GROUP, PLURAL, VERSION, type KindCustomHttp } from '../functions/core/kindcustomhttp.js';
import { KubeClient, PatchType } from '../functions/core/kube-client.js';
import { runningCluster } from '../infra/local/cluster/index.js';
import { installCrd } from '../infra/local/crd.js';
import { forwarderPodsSetup } from '../infra/local/forwarder-pods.js';
import { functionsKubeconfig, installReconcilerAccess } from '../infra/local/reconciler-access.js';
import { LocalStack, type ForwarderPodsSetup, type StackLine } from '../infra/local/stack.js';
import type { BusEvent } from '../infra/local/bus/bus.js';
import { BURST_SPEC, ChildSightings } from './sightings.js';
import { deleteNamespaceAndWait, percentile, round } from './stats.js';

const hops = ['crSeen', 'busCr', 'reconciled', 'children', 'deploymentReady', 'busDeployment', 'reconciledReady', 'ready'] as const;
type Hop = (typeof hops)[number];
type Watched = Record<string, unknown> & { metadata: { name: string } };

/** The first moment of each hop, per CR. */
class Hops {
  readonly at = new Map<Hop, Map<string, number>>(hops.map((hop) => [hop, new Map()]));
  private readonly sightings = new ChildSightings();

  constructor(private readonly namespace: string) {}

  mark(hop: Hop, name: string): void {
    const moments = this.at.get(hop)!;
    if (!moments.has(name)) moments.set(name, Date.now());
  }

  has(hop: Hop, name: string): boolean {
    return this.at.get(hop)!.has(name);
  }

  /** The functions' "reconciled" lines of this namespace. */
  line(line: StackLine): void {
    const json = line.json;
    if (line.source !== 'functions' || json?.message !== 'reconciled' || json.namespace !== this.namespace) return;
    this.mark(json.ready === true ? 'reconciledReady' : 'reconciled', String(json.name));
  }

  /** The bus's events: the CR's own, then its Deployment's once its pods are ready. */
  busEvent(event: BusEvent): void {
    const detail = event.detail as { namespace?: string; name?: string; kind?: string; owner?: { name: string } };
    if (detail.namespace !== this.namespace) return;
    if (!detail.owner) return this.mark('busCr', detail.name ?? '');
    if (detail.kind === 'Deployment' && this.has('deploymentReady', detail.owner.name)) this.mark('busDeployment', detail.owner.name);
  }

  cr(cr: KindCustomHttp): void {
    this.mark('crSeen', cr.metadata.name);
    if (cr.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === cr.metadata.generation)) this.mark('ready', cr.metadata.name);
  }

  child(kind: ChildKind, object: Watched): void {
    const name = this.sightings.saw(kind, object.metadata.name);
    if (this.sightings.childrenAt.has(name)) this.mark('children', name);
    const status = object.status as { readyReplicas?: number } | undefined;
    if (kind === 'Deployment' && status?.readyReplicas === BURST_SPEC.replicaCount) this.mark('deploymentReady', name);
  }

  /** p50 of each hop from the one before it, and of apply to each. */
  figures(names: string[], applied: Map<string, number>): Record<string, number> {
    const figures: Record<string, number> = {};
    let [previous, previousHop] = [applied, 'apply'];
    for (const hop of hops) {
      const moments = this.at.get(hop)!;
      const both = names.filter((name) => moments.has(name) && previous.has(name));
      if (both.length === 0) continue;
      figures[`hops.${previousHop}_to_${hop}.p50_ms`] = round(percentile(both.map((name) => moments.get(name)! - previous.get(name)!), 50));
      figures[`hops.apply_to_${hop}.p50_ms`] = round(percentile(both.map((name) => moments.get(name)! - applied.get(name)!), 50));
      [previous, previousHop] = [moments, hop];
    }
    return figures;
  }
}

export interface HopsOptions {
  crs: number;
  /** The forwarder in pods, as `npm start` runs it; a process on this host when absent. */
  forwarderPods?: ForwarderPodsSetup;
}

export async function benchHops(kubeconfig: string, functionsConfig: string, options: HopsOptions): Promise<Record<string, number>> {
  const client = new KubeClient(clusterEndpoint({ mode: 'kubeconfig', path: kubeconfig }), { timeoutMs: 30_000 });
  const namespace = `bench-hops-${Date.now().toString(36)}`;
  await client.request('/api/v1/namespaces', { method: 'POST', body: { metadata: { name: namespace } } });
  const recorded = new Hops(namespace);
  const stack = await LocalStack.start({
    kubeconfig,
    functionsKubeconfig: functionsConfig,
    logDir: join(tmpdir(), namespace),
    forwarderPods: options.forwarderPods,
    onLine: (line) => recorded.line(line),
    onBusEvent: (event) => recorded.busEvent(event),
  });
  const stopping = new AbortController();
  const watch = (path: string, onObject: (object: Watched) => void) =>
    client.stream(path, { query: { watch: true }, idleTimeoutMs: 3_600_000, signal: stopping.signal, onLine: (text) => onObject(JSON.parse(text).object) }).catch(() => undefined);
  const watches = [
    watch(`/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`, (object) => recorded.cr(object as unknown as KindCustomHttp)),
    ...childKinds.map((kind) => watch(collectionPath(childKindInfo[kind], namespace), (object) => recorded.child(kind, object))),
  ];
  const applied = new Map<string, number>();
  const applyAndWait = async (name: string) => {
    applied.set(name, Date.now());
    const body = { apiVersion: `${GROUP}/${VERSION}`, kind: 'KindCustomHttp', metadata: { name, namespace }, spec: BURST_SPEC };
    await client.request(`/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}/${name}`, { method: 'PATCH', query: { fieldManager: 'kubectl', force: true }, body, contentType: PatchType.apply });
    const deadline = Date.now() + 120_000;
    while (!recorded.has('ready', name)) {
      if (Date.now() > deadline) throw new Error(`${name} not Ready after 120 s`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // The CR's last events pass before the next CR.
    await new Promise((resolve) => setTimeout(resolve, 300));
  };
  try {
    // The first invocation loads the function; a deployed function is warm after its first too.
    await applyAndWait('warm-up');
    const names = Array.from({ length: options.crs }, (_, i) => `hop-${i}`);
    for (const name of names) await applyAndWait(name);
    const figures = recorded.figures(names, applied);
    return {
      'single_cr.crs': options.crs,
      'single_cr.forwarder_in_pods': options.forwarderPods ? 1 : 0,
      'single_cr.apply_to_children.p50_ms': figures['hops.apply_to_children.p50_ms'] ?? NaN,
      'single_cr.apply_to_ready.p50_ms': figures['hops.apply_to_ready.p50_ms'] ?? NaN,
      ...figures,
    };
  } finally {
    stopping.abort();
    await Promise.allSettled(watches);
    await stack.stop();
    await deleteNamespaceAndWait(client, namespace);
  }
}

/** The forwarder as `npm start` runs it on the local cluster: in pods on its real node, if it has one. */
export function npmStartForwarder(): ForwarderPodsSetup | undefined {
  const state = runningCluster();
  return state?.node ? forwarderPodsSetup(state) : undefined;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const kubeconfig = runningCluster()?.kubeconfig;
  if (!kubeconfig) throw new Error('no local cluster running: npm run cluster:up');
  await installCrd(kubeconfig);
  await installReconcilerAccess(kubeconfig, functionsKubeconfig(undefined));
  const forwarderPods = process.env.FORWARDER === 'process' ? undefined : npmStartForwarder();
  const figures = await benchHops(kubeconfig, functionsKubeconfig(undefined) ?? kubeconfig, { crs: Number(process.argv[2] ?? 20), forwarderPods });
  for (const [key, value] of Object.entries(figures)) console.log(`${key.padEnd(50)} ${value}`);
}
