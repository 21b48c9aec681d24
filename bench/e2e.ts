// The whole path on the local stack: apply a CR -> forwarder -> bus -> queue -> reconcile function
// -> children -> pods Ready -> status Ready. Per CR at a steady rate, then a burst: when all three
// children exist, when the CR is Ready, and what the burst cost in events, invocations and
// reconciles. Times come from watches, so they are the apiserver's moments, not a poller's.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childKindInfo, childKinds, collectionPath, type ChildKind } from '../functions/core/children.js';
import { clusterEndpoint } from '../functions/core/cluster-endpoint.js';
import { forEachBounded } from '../functions/core/concurrency.js';
import { GROUP, PLURAL, VERSION, type KindCustomHttp } from '../functions/core/kindcustomhttp.js';
import { KubeClient, PatchType } from '../functions/core/kube-client.js';
import { apiserverRequests } from '../infra/local/apiserver-metrics.js';
import { LocalStack } from '../infra/local/stack.js';
import { deleteNamespaceAndWait, percentile, round } from './stats.js';

export interface E2eBenchOptions {
  /** CRs applied one after another at `ratePerSecond`, each timed from apply. */
  steadyCrs: number;
  ratePerSecond: number;
  /** CRs applied at once. */
  burstCrs: number;
  /** Settings of the forwarder beyond the stack's own (PUBLISH_RATE, ...). */
  forwarderEnv?: Record<string, string>;
}

const crPath = (namespace: string) => `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`;

/** First moments seen by watches: each CR's children appearing, and the CR Ready at its generation. */
class Observer {
  readonly childrenAt = new Map<string, number>();
  /** Per child kind, when each CR's child of that kind appeared. */
  readonly kindAt = new Map<ChildKind, Map<string, number>>(childKinds.map((kind) => [kind, new Map()]));
  readonly readyAt = new Map<string, number>();
  private readonly stopping = new AbortController();
  private readonly watches: Array<Promise<void>> = [];

  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
  ) {}

  start(): void {
    for (const kind of childKinds) this.watch(collectionPath(childKindInfo[kind], this.namespace), (object) => this.child(kind, object));
    this.watch(crPath(this.namespace), (object) => this.cr(object as KindCustomHttp));
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled(this.watches);
  }

  private watch(path: string, onObject: (object: { metadata?: { name?: string } }) => void): void {
    const onLine = (line: string) => onObject((JSON.parse(line) as { object: { metadata?: { name?: string } } }).object);
    this.watches.push(this.client.stream(path, { query: { watch: true, allowWatchBookmarks: false }, idleTimeoutMs: 3_600_000, onLine, signal: this.stopping.signal }).catch(() => undefined));
  }

  private child(kind: ChildKind, object: { metadata?: { name?: string } }): void {
    const name = object.metadata?.name ?? '';
    // Children are named after their CR (ConfigMaps with a suffix).
    const cr = kind === 'ConfigMap' ? name.replace(/-configmap$/, '') : name;
    const kindAt = this.kindAt.get(kind)!;
    if (!kindAt.has(cr)) kindAt.set(cr, Date.now());
    if (!this.childrenAt.has(cr) && childKinds.every((each) => this.kindAt.get(each)!.has(cr))) this.childrenAt.set(cr, Date.now());
  }

  private cr(cr: KindCustomHttp): void {
    const ready = cr.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === cr.metadata.generation);
    if (ready && !this.readyAt.has(cr.metadata.name)) this.readyAt.set(cr.metadata.name, Date.now());
  }

  async waitFor(moments: Map<string, number>, names: string[], timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (names.some((name) => !moments.has(name))) {
      if (Date.now() > deadline) throw new Error(`${names.filter((name) => !moments.has(name)).length} CRs not ${what} after ${timeoutMs / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** The forwarder's count of events the bus accepted. */
async function published(stack: LocalStack): Promise<number> {
  const text = await (await fetch(`${stack.forwarderUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('forwarder_events_published_total'));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

const latencies = (names: string[], from: Map<string, number>, to: Map<string, number>) => names.map((name) => to.get(name)! - from.get(name)!);

export async function benchEndToEnd(kubeconfig: string, functionsKubeconfig: string, options: E2eBenchOptions): Promise<Record<string, number>> {
  const client = new KubeClient(clusterEndpoint({ mode: 'kubeconfig', path: kubeconfig }), { timeoutMs: 30_000 });
  const namespace = `bench-e2e-${Date.now().toString(36)}`;
  await client.request('/api/v1/namespaces', { method: 'POST', body: { metadata: { name: namespace } } });
  const stack = await LocalStack.start({ kubeconfig, functionsKubeconfig, logDir: join(tmpdir(), namespace), forwarderEnv: { WATCH_NAMESPACES: namespace, LOG_LEVEL: 'WARN', ...options.forwarderEnv } });
  const observer = new Observer(client, namespace);
  observer.start();
  const appliedAt = new Map<string, number>();
  const apply = async (name: string) => {
    const body = { apiVersion: `${GROUP}/${VERSION}`, kind: 'KindCustomHttp', metadata: { name, namespace }, spec: { port: 80, replicaCount: 2, configMapData: { hostports: 'localhost,8080\n' } } };
    appliedAt.set(name, Date.now());
    await client.request(`${crPath(namespace)}/${name}`, { method: 'PATCH', query: { fieldManager: 'kubectl', force: true }, body, contentType: PatchType.apply });
  };

  try {
    // The first invocation loads the function; a deployed function is warm after its first too.
    await apply('warm-up');
    await observer.waitFor(observer.readyAt, ['warm-up'], 120_000, 'Ready');

    const steady = Array.from({ length: options.steadyCrs }, (_, i) => `steady-${i}`);
    for (const name of steady) {
      await apply(name);
      await new Promise((resolve) => setTimeout(resolve, 1000 / options.ratePerSecond));
    }
    await observer.waitFor(observer.readyAt, steady, 120_000, 'Ready');
    const toChildren = latencies(steady, appliedAt, observer.childrenAt);
    const toReady = latencies(steady, appliedAt, observer.readyAt);

    const burst = Array.from({ length: options.burstCrs }, (_, i) => `burst-${i}`);
    const [busBefore, publishedBefore, reconcilesBefore] = [stack.busFigures(), await published(stack), await apiserverRequests(client, { verb: 'GET', resource: PLURAL })];
    const burstStart = Date.now();
    await forEachBounded(burst, 32, apply);
    const applySeconds = (Date.now() - burstStart) / 1000;
    await observer.waitFor(observer.childrenAt, burst, 600_000, 'with children');
    await observer.waitFor(observer.readyAt, burst, 900_000, 'Ready');
    const lastOf = (moments: Map<string, number>) => (Math.max(...burst.map((name) => moments.get(name)!)) - burstStart) / 1000;
    // Let the last status events drain before counting what the burst cost.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const busAfter = stack.busFigures();
    const perCr = (count: number) => round(count / options.burstCrs, 2);
    const reconciles = (await apiserverRequests(client, { verb: 'GET', resource: PLURAL })) - reconcilesBefore;

    return {
      'e2e.steady.crs': options.steadyCrs,
      'e2e.steady.rate_per_second': options.ratePerSecond,
      'e2e.apply_to_children.p50_ms': round(percentile(toChildren, 50)),
      'e2e.apply_to_children.p95_ms': round(percentile(toChildren, 95)),
      'e2e.apply_to_ready.p50_ms': round(percentile(toReady, 50)),
      'e2e.apply_to_ready.p95_ms': round(percentile(toReady, 95)),
      'e2e.apply_to_ready.p99_ms': round(percentile(toReady, 99)),
      'e2e.burst.crs': options.burstCrs,
      'e2e.burst.apply_seconds': round(applySeconds, 2),
      'e2e.burst.all_children_seconds': round(lastOf(observer.childrenAt), 2),
      'e2e.burst.all_ready_seconds': round(lastOf(observer.readyAt), 2),
      // Which kind is the long pole: a ClusterIP Service waits for the apiserver's allocator.
      ...Object.fromEntries(childKinds.map((kind) => [`e2e.burst.all_${kind.toLowerCase()}s_seconds`, round(lastOf(observer.kindAt.get(kind)!), 2)])),
      'e2e.burst.published_events_per_cr': perCr((await published(stack)) - publishedBefore),
      'e2e.burst.invocations_per_cr': perCr(busAfter.invocations - busBefore.invocations),
      'e2e.burst.reconciles_per_cr': perCr(reconciles),
      'e2e.burst.messages_per_invocation': round((busAfter.messagesInvoked - busBefore.messagesInvoked) / Math.max(1, busAfter.invocations - busBefore.invocations), 2),
      'e2e.burst.max_concurrent_invocations': busAfter.maxConcurrentInvocations,
      'e2e.redeliveries': busAfter.redeliveries,
      'e2e.dead_lettered': busAfter.deadLettered,
    };
  } finally {
    await observer.stop();
    await stack.stop();
    await deleteNamespaceAndWait(client, namespace);
  }
}
