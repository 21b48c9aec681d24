// The whole path on the local stack, started as `npm start` starts it: apply a CR -> forwarder ->
// bus -> queue -> reconcile function -> children -> pods Ready -> status Ready. First the control
// plane's floor (floor.ts: the same children created with no operator running). Then per CR at a
// steady rate: the moments come from watches (the apiserver's own) and, beside them, from a client
// polling every 250 ms as a user's script would (poller.ts). Then, once the stack is idle, a burst
// of CRs created 50 at a time, timed by the poller every second as the floor is, each figure also
// as a ratio to the floor's; and what it cost: events, invocations, reconciles, requests by verb
// and resource as the apiserver counted them, retries after a 429 and writes abandoned without an
// answer (the functions' log lines).
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childKindInfo, childKinds, collectionPath, type ChildKind } from '../functions/core/children.js';
import { clusterEndpoint } from '../functions/core/cluster-endpoint.js';
import { forEachBounded } from '../functions/core/concurrency.js';
import { GROUP, PLURAL, VERSION, type KindCustomHttp } from '../functions/core/kindcustomhttp.js';
import { KubeClient, PatchType } from '../functions/core/kube-client.js';
import { apiserverRequestsByKind, requestsBetween } from '../infra/local/apiserver-metrics.js';
import { LocalStack, type StackLine } from '../infra/local/stack.js';
import { CpuSnapshot } from './cpu.js';
import { measureFloor, printRequests, writes, type Floor } from './floor.js';
import { BURST_SPEC, ChildSightings } from './sightings.js';
import { BULK_POLL_INTERVAL_MS, Poller } from './poller.js';
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
  private readonly sightings = new ChildSightings();
  readonly childrenAt = this.sightings.childrenAt;
  readonly readyAt = new Map<string, number>();
  private readonly stopping = new AbortController();
  private readonly watches: Array<Promise<void>> = [];

  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
  ) {}

  start(): void {
    for (const kind of this.sightings.kinds) this.watch(collectionPath(childKindInfo[kind], this.namespace), (object) => this.child(kind, object));
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
    this.sightings.saw(kind, object.metadata?.name ?? '');
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

/** Waits until the forwarder has published nothing for 5 s and the queue holds nothing, in flight or not. */
async function waitForIdleStack(stack: LocalStack, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = await published(stack);
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const now = await published(stack);
    if (now !== last) [last, quietSince] = [now, Date.now()];
    if (Date.now() - quietSince >= 5000 && stack.busFigures().queueDepth === 0) return;
  }
  throw new Error(`the stack still had events to work through after ${timeoutMs / 1000} s`);
}

const latencies = (names: string[], from: Map<string, number>, to: Map<string, number>) => names.map((name) => to.get(name)! - from.get(name)!);

/** What the stack's log lines say of the reconciles: their waits in the queue, the ones that changed nothing, and congestion. */
class StackLog {
  queueWaitsMs: number[] = [];
  reconciles = 0;
  idleReconciles = 0;
  throttledRetries = 0;
  abandonedWrites = 0;
  failedReconciles = 0;
  /** Handed back unstarted, with too little of their invocation left. */
  notStarted = 0;
  /** The functions' write limit after each reconcile. */
  writeLimits: number[] = [];

  hear(line: StackLine): void {
    const json = line.json;
    if (line.source === 'bus' && typeof json?.oldestWaitMs === 'number') this.queueWaitsMs.push(json.oldestWaitMs);
    if (line.source === 'functions' && json) this.functionLine(json);
  }

  private functionLine(json: Record<string, unknown>): void {
    switch (json.message) {
      case 'reconciled':
        this.reconciles++;
        if (typeof json.writeLimit === 'number') this.writeLimits.push(json.writeLimit);
        if (json.changes === 0 && json.statusUpdated === false) this.idleReconciles++;
        return;
      case 'reconcile failed; retrying':
      case 'reconcile failed; the event goes back to the queue':
        this.failedReconciles++;
        return;
      case 'API request throttled; sending it again':
        this.throttledRetries++;
        return;
      case 'API write abandoned without an answer':
        this.abandonedWrites++;
        return;
      case 'reconcile not started; the event goes back to the queue':
        this.notStarted++;
    }
  }

  snapshot() {
    return { limits: this.writeLimits.length, waits: this.queueWaitsMs.length, reconciles: this.reconciles, idle: this.idleReconciles, throttled: this.throttledRetries, abandoned: this.abandonedWrites, failed: this.failedReconciles, notStarted: this.notStarted };
  }
}

export async function benchEndToEnd(kubeconfig: string, functionsKubeconfig: string, options: E2eBenchOptions): Promise<Record<string, number>> {
  // A create the apiserver has queued is waited for, as kubectl would: the floor's client must not
  // give up and send again (50 creates at once went unanswered for 30 s at a load average of 14).
  const client = new KubeClient(clusterEndpoint({ mode: 'kubeconfig', path: kubeconfig }), { timeoutMs: 30_000, writeTimeoutMs: 600_000 });
  // First, with no operator running: what the control plane takes to make the burst's children itself.
  const { floor, figures: floorFigures } = await measureFloor(client, options.burstCrs);
  const run = `bench-e2e-${Date.now().toString(36)}`;
  const log = new StackLog();
  // As npm start runs it: every namespace watched, the same log levels.
  const stack = await LocalStack.start({ kubeconfig, functionsKubeconfig, logDir: join(tmpdir(), run), forwarderEnv: options.forwarderEnv, onLine: (line) => log.hear(line) });
  try {
    const steady = await inNamespace(client, `${run}-steady`, (namespace) => steadyFigures(options, client, namespace));
    // The burst meets a cluster as empty as the floor's did: the steady CRs' children gone. With
    // them beside it, the controllers' work per pod grows with the objects in the namespace (the
    // disruption controller matches every pod against every PodDisruptionBudget there). And an idle
    // stack: the deletion's events (one a child) reconciled inside the burst were 0.5 of its 2.5
    // reconciles per CR, 5 GETs each, with the burst's events queued behind them.
    await waitForIdleStack(stack);
    const burst = await inNamespace(client, `${run}-burst`, (namespace) => burstFigures(options, { client, namespace, stack, log, floor }));
    return { ...floorFigures, ...steady, ...burst };
  } finally {
    await stack.stop();
  }
}

/** Runs `work` in a namespace of its own, deleted (and waited for) afterwards. */
async function inNamespace<T>(client: KubeClient, namespace: string, work: (namespace: string) => Promise<T>): Promise<T> {
  await client.request('/api/v1/namespaces', { method: 'POST', body: { metadata: { name: namespace } } });
  try {
    return await work(namespace);
  } finally {
    await deleteNamespaceAndWait(client, namespace);
  }
}

/** Applies a burst CR of `name` as kubectl apply would, noting when. */
function applier(client: KubeClient, namespace: string, appliedAt = new Map<string, number>()): (name: string) => Promise<void> {
  return async (name) => {
    const body = { apiVersion: `${GROUP}/${VERSION}`, kind: 'KindCustomHttp', metadata: { name, namespace }, spec: BURST_SPEC };
    appliedAt.set(name, Date.now());
    await client.request(`${crPath(namespace)}/${name}`, { method: 'PATCH', query: { fieldManager: 'kubectl', force: true }, body, contentType: PatchType.apply });
  };
}

/** CRs applied one after another: apply to children and to Ready, by watch and by the 250 ms poller. */
async function steadyFigures(options: E2eBenchOptions, client: KubeClient, namespace: string): Promise<Record<string, number>> {
  const observer = new Observer(client, namespace);
  const poller = new Poller(client, namespace, true);
  const appliedAt = new Map<string, number>();
  const apply = applier(client, namespace, appliedAt);
  observer.start();
  poller.start();
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
    await poller.waitFor(poller.readyAt, steady, 120_000, 'Ready');
    const toChildren = latencies(steady, appliedAt, observer.childrenAt);
    const toReady = latencies(steady, appliedAt, observer.readyAt);
    return {
      'e2e.steady.crs': options.steadyCrs,
      'e2e.steady.rate_per_second': options.ratePerSecond,
      'e2e.apply_to_children.p50_ms': round(percentile(toChildren, 50)),
      'e2e.apply_to_children.p95_ms': round(percentile(toChildren, 95)),
      'e2e.apply_to_ready.p50_ms': round(percentile(toReady, 50)),
      'e2e.apply_to_ready.p95_ms': round(percentile(toReady, 95)),
      'e2e.apply_to_ready.p99_ms': round(percentile(toReady, 99)),
      // The same CRs as a client polling every 250 ms sees them: later by half an interval on average.
      'e2e.polled.apply_to_children.p50_ms': round(percentile(latencies(steady, appliedAt, poller.childrenAt), 50)),
      'e2e.polled.apply_to_children.p95_ms': round(percentile(latencies(steady, appliedAt, poller.childrenAt), 95)),
      'e2e.polled.apply_to_ready.p50_ms': round(percentile(latencies(steady, appliedAt, poller.readyAt), 50)),
    };
  } finally {
    await observer.stop();
    await poller.stop();
  }
}

interface BurstContext {
  client: KubeClient;
  namespace: string;
  stack: LocalStack;
  log: StackLog;
  floor: Floor;
}

/** BURST_CLIENT_CONCURRENCY CRs created at a time, timed by the poller as the floor is. */
const BURST_CLIENT_CONCURRENCY = 50;

async function burstFigures(options: E2eBenchOptions, context: BurstContext): Promise<Record<string, number>> {
  const poller = new Poller(context.client, context.namespace, true, BULK_POLL_INTERVAL_MS);
  poller.start();
  try {
    return await timedBurst(options, context, poller);
  } finally {
    await poller.stop();
  }
}

async function timedBurst(options: E2eBenchOptions, { client, namespace, stack, log, floor }: BurstContext, poller: Poller): Promise<Record<string, number>> {
  const apply = applier(client, namespace);
  const burst = Array.from({ length: options.burstCrs }, (_, i) => `burst-${i}`);
  const [busBefore, publishedBefore, requestsBefore, logBefore] = [stack.busFigures(), await published(stack), await apiserverRequestsByKind(client), log.snapshot()];
  const cpuBefore = new CpuSnapshot();
  const burstStart = Date.now();
  await forEachBounded(burst, BURST_CLIENT_CONCURRENCY, apply);
  const applySeconds = (Date.now() - burstStart) / 1000;
  await poller.waitFor(poller.childrenAt, burst, 900_000, 'with children');
  await poller.waitFor(poller.readyAt, burst, 900_000, 'Ready');
  const lastOf = (moments: Map<string, number>) => (Math.max(...burst.map((name) => moments.get(name)!)) - burstStart) / 1000;
  const [allChildren, allReady] = [lastOf(poller.childrenAt), lastOf(poller.readyAt)];
  const cpu = new CpuSnapshot().since(cpuBefore, 'e2e.burst.cpu_seconds');
  // Let the last status events drain before counting what the burst cost.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const busAfter = stack.busFigures();
  const logAfter = log.snapshot();
  const requests = requestsBetween(requestsBefore, await apiserverRequestsByKind(client));
  const perCr = (count: number) => round(count / options.burstCrs, 2);
  const total = requests.reduce((sum, [, n]) => sum + n, 0);
  const waits = log.queueWaitsMs.slice(logBefore.waits);
  const limits = log.writeLimits.slice(logBefore.limits);
  printRequests('burst', requests);
  return {
    'e2e.burst.crs': options.burstCrs,
    'e2e.burst.client_concurrency': BURST_CLIENT_CONCURRENCY,
    'e2e.burst.apply_seconds': round(applySeconds, 2),
    'e2e.burst.all_children_seconds': round(allChildren, 2),
    'e2e.burst.all_ready_seconds': round(allReady, 2),
    'e2e.burst.all_children_over_floor': round(allChildren / floor.allChildrenSeconds, 2),
    // The goal: Ready within 10 s of the floor's Deployments being ready.
    'e2e.burst.all_ready_minus_floor_deployments_ready_seconds': round(allReady - floor.deploymentsReadySeconds, 2),
    'e2e.burst.all_ready_over_floor_deployments_ready': round(allReady / floor.deploymentsReadySeconds, 2),
    // Which kind is the long pole: a ClusterIP Service waits for the apiserver's allocator.
    ...Object.fromEntries([...poller.kindAt].map(([kind, seen]) => [`e2e.burst.all_${kind.toLowerCase()}s_seconds`, round(lastOf(seen), 2)])),
    'e2e.burst.published_events_per_cr': perCr((await published(stack)) - publishedBefore),
    'e2e.burst.invocations_per_cr': perCr(busAfter.invocations - busBefore.invocations),
    'e2e.burst.reconciles_per_cr': perCr(logAfter.reconciles - logBefore.reconciles),
    'e2e.burst.reconciles_that_changed_nothing': logAfter.idle - logBefore.idle,
    'e2e.burst.failed_reconciles_retried': logAfter.failed - logBefore.failed,
    'e2e.burst.throttled_retries': logAfter.throttled - logBefore.throttled,
    'e2e.burst.abandoned_writes': logAfter.abandoned - logBefore.abandoned,
    'e2e.burst.reconciles_not_started': logAfter.notStarted - logBefore.notStarted,
    'e2e.burst.write_limit.min': Math.min(...limits),
    'e2e.burst.write_limit.p50': percentile(limits, 50),
    'e2e.burst.queue_wait.p50_ms': round(percentile(waits, 50)),
    'e2e.burst.queue_wait.p90_ms': round(percentile(waits, 90)),
    'e2e.burst.messages_per_invocation': round((busAfter.messagesInvoked - busBefore.messagesInvoked) / Math.max(1, busAfter.invocations - busBefore.invocations), 2),
    'e2e.burst.max_concurrent_invocations': busAfter.maxConcurrentInvocations,
    // All the apiserver served but watches (the operator's, the controllers', this client's polls), per CR; the floor's beside it.
    'e2e.burst.apiserver_requests_per_cr': perCr(total),
    'e2e.burst.apiserver_writes_per_cr': perCr(writes(requests)),
    'e2e.burst.apiserver_requests_per_cr_over_floor': round(total / options.burstCrs - floor.requestsPerCr, 2),
    ...Object.fromEntries(operatorRequests(requests).map(([key, n]) => [`e2e.burst.requests_per_cr.${key.replace(' ', '_')}`, perCr(n)])),
    // Where the burst's CPU went, component by component: the control plane's, the node's, the
    // stack's own (functions, forwarder) and this benchmark's poller; the floor's beside it.
    ...cpu,
    'e2e.redeliveries': busAfter.redeliveries,
    'e2e.dead_lettered': busAfter.deadLettered,
  };
}

/** The requests on what the operator reads and writes: its CRs, their children, Events. */
function operatorRequests(requests: Array<[string, number]>): Array<[string, number]> {
  const resources = new Set([PLURAL, `${PLURAL}/status`, 'events', ...childKinds.map((kind) => childKindInfo[kind].plural)]);
  return requests.filter(([key]) => /^(GET|APPLY|PATCH|POST) /.test(key) && resources.has(key.split(' ')[1]!));
}
