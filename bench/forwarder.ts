// Benchmark of the event forwarder against the local control plane and the recording EventBridge
// endpoint. With `crs` CRs, each owning a ConfigMap of `configMapBytes`: the initial sync's time
// and the memory held after it, then the same with the ConfigMaps emptied (memory should not
// follow the data: the watches read metadata only); how fast a burst of spec changes is
// published; and, for a burst of several changes per CR, how many events each CR costs with and
// without a publish rate limit. The forwarder runs as its production bundle (esbuild, as the
// Dockerfile builds it) in a process of its own, so its memory is measured alone.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { load } from 'js-yaml';
import { childKindInfo, collectionPath, objectPath } from '../functions/core/children.js';
import { clusterEndpoint } from '../functions/core/cluster-endpoint.js';
import { forEachBounded } from '../functions/core/concurrency.js';
import { KubeClient, PatchType } from '../functions/core/kube-client.js';
import { API_VERSION, KIND, PLURAL } from '../functions/core/kindcustomhttp.js';
import { PutEventsServer, type PutEventsEntry } from '../infra/local/bus/put-events.js';
import { compactEtcd, up } from '../infra/local/cluster/index.js';
import { installCrd } from '../infra/local/crd.js';
import { deleteNamespaceAndWait, round } from './stats.js';

const CONCURRENCY = 64;
const repoRoot = new URL('..', import.meta.url).pathname;
const mib = (bytes: number) => round(bytes / 2 ** 20);

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`benchmark: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function bundleForwarder(): Promise<string> {
  const outfile = join(tmpdir(), `forwarder-bench-${process.pid}.mjs`);
  await build({
    entryPoints: [join(repoRoot, 'functions/forwarder/main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    outfile,
    logLevel: 'error',
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  return outfile;
}

interface DeploymentManifest {
  spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> } } };
}

/** What shapes the forwarder process's memory in the cluster, so that its memory here is what it would be there. */
const PROCESS_SETTINGS = ['NODE_OPTIONS', 'MALLOC_ARENA_MAX'];

/** The Deployment's values of PROCESS_SETTINGS. */
function deployedProcessSettings(): Record<string, string> {
  const manifest = load(readFileSync(join(repoRoot, 'infra/forwarder/deployment.yaml'), 'utf8')) as DeploymentManifest;
  const env = manifest.spec.template.spec.containers.flatMap((container) => container.env ?? []);
  return Object.fromEntries(env.filter((variable) => PROCESS_SETTINGS.includes(variable.name) && variable.value !== undefined).map((variable) => [variable.name, variable.value!]));
}

function residentBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : NaN;
}

/** The sum of a metric's series on a forwarder's /metrics, those whose labels include `labels`. */
async function metricSum(port: number, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const series = text.split('\n').filter((line) => line.startsWith(`${name} `) || (line.startsWith(`${name}{`) && line.includes(labels)));
  return series.reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

interface RecordingBus {
  url: string;
  /** Every entry received, in order. */
  events: PutEventsEntry[];
  close(): Promise<void>;
}

/** A PutEvents endpoint that accepts and keeps every entry. */
async function recordingBus(): Promise<RecordingBus> {
  const events: PutEventsEntry[] = [];
  const server = await PutEventsServer.start((entries) => {
    events.push(...entries);
    return entries.map(() => ({ EventId: randomUUID() }));
  });
  return { url: server.url, events, close: () => server.close() };
}

/** The test cluster (through the operator's own client, whose connections are kept alive), the recording bus, the bundle. */
interface Bench {
  kubeconfig: string;
  client: KubeClient;
  endpoint: RecordingBus;
  bundle: string;
}

const crInfo = { groupPath: `/apis/${API_VERSION}`, plural: PLURAL };
const configMap = (namespace: string, crName: string) => objectPath(childKindInfo.ConfigMap, namespace, childKindInfo.ConfigMap.name(crName));

function patch<T>(bench: Bench, path: string, body: object): Promise<T> {
  return bench.client.request<T>(path, { method: 'PATCH', body, contentType: PatchType.merge });
}

const patchSpec = (bench: Bench, namespace: string, name: string, spec: object) => patch<{ metadata: { resourceVersion: string } }>(bench, objectPath(crInfo, namespace, name), { spec });
const setHostports = (bench: Bench, namespace: string, name: string, hostports: string) => patch(bench, configMap(namespace, name), { data: { hostports } });

/** A forwarder process watching `namespace`, publishing to the bench's endpoint. */
class ForwarderProcess {
  readonly port = 20_000 + Math.floor(Math.random() * 20_000);
  readonly startedAt = Date.now();
  private readonly child: ChildProcess;
  private readonly logPath: string;

  constructor(bench: Bench, namespace: string, extraEnv: Record<string, string> = {}) {
    this.logPath = join(tmpdir(), `forwarder-bench-${process.pid}-${namespace}-${Date.now()}.log`);
    const log = openSync(this.logPath, 'w');
    this.child = spawn(process.execPath, [bench.bundle], {
      stdio: ['ignore', log, log],
      env: {
        PATH: process.env.PATH,
        ...deployedProcessSettings(),
        EVENT_BUS_NAME: 'bench',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'bench',
        AWS_SECRET_ACCESS_KEY: 'bench',
        EVENTBRIDGE_ENDPOINT: bench.endpoint.url,
        KUBECONFIG: bench.kubeconfig,
        WATCH_NAMESPACES: namespace,
        LEADER_ELECTION: 'false',
        HTTP_PORT: String(this.port),
        LOG_LEVEL: 'INFO',
        ...extraEnv,
      },
    });
  }

  async ready(): Promise<boolean> {
    if (this.child.exitCode !== null) throw new Error(`benchmark: the forwarder exited (${this.child.exitCode}); its log: ${this.logPath}`);
    return fetch(`http://127.0.0.1:${this.port}/readyz`).then((response) => response.ok, () => false);
  }

  async memory(): Promise<{ rss: number; heap: number }> {
    return { rss: residentBytes(this.child.pid!), heap: await metricSum(this.port, 'forwarder_nodejs_heap_size_used_bytes') };
  }

  /** Changes its watches have seen (not listed), and events not yet on the bus. */
  async progress(): Promise<{ changesSeen: number; queued: number }> {
    const [changesSeen, queued] = await Promise.all([metricSum(this.port, 'forwarder_events_observed_total', 'change="Modified"'), metricSum(this.port, 'forwarder_queue_depth')]);
    return { changesSeen, queued };
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** `count` CRs, each owning a ConfigMap of `bytes` as its reconcile would make it. */
async function createCrsWithConfigMaps(bench: Bench, namespace: string, count: number, bytes: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `cr-${i}`);
  const payload = 'x'.repeat(bytes);
  await forEachBounded(names, CONCURRENCY, async (name) => {
    const body = { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec: { port: 80, replicaCount: 1 } };
    const cr = await bench.client.request<{ metadata: { uid: string } }>(collectionPath(crInfo, namespace), { method: 'POST', body });
    const ownerReferences = [{ apiVersion: API_VERSION, kind: KIND, name, uid: cr.metadata.uid, controller: true }];
    const metadata = { name: childKindInfo.ConfigMap.name(name), labels: { 'app.kubernetes.io/managed-by': 'stimulated-peering' }, ownerReferences };
    await bench.client.request(collectionPath(childKindInfo.ConfigMap, namespace), { method: 'POST', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata, data: { hostports: payload } } });
  });
  return names;
}

/** V8 gives memory back once a process has been idle a while. */
const SETTLE_MS = 30_000;

/**
 * Starts a forwarder, waits for its initial sync (a Synced event per CR, every watch listed), and
 * measures its memory then and once settled; stops it.
 */
async function measureSync(bench: Bench, namespace: string, crs: number) {
  const before = bench.endpoint.events.length;
  const forwarder = new ForwarderProcess(bench, namespace);
  try {
    await waitUntil('the initial sync', async () => (await forwarder.ready()) && bench.endpoint.events.length - before >= crs, 300_000);
    const seconds = (Date.now() - forwarder.startedAt) / 1000;
    const afterSync = await forwarder.memory();
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    return { seconds, ...afterSync, settledRss: (await forwarder.memory()).rss };
  } finally {
    await forwarder.stop();
  }
}

/** Spec changes of `changes` CRs at once, with a forwarder running: events a second, and memory after. */
async function measureChanges(bench: Bench, namespace: string, names: string[], crs: number) {
  const forwarder = new ForwarderProcess(bench, namespace);
  try {
    await waitUntil('the initial sync', async () => await forwarder.ready(), 300_000);
    await waitUntil('the Synced events', () => bench.endpoint.events.length >= crs, 300_000);
    const before = bench.endpoint.events.length;
    const started = Date.now();
    await forEachBounded(names, CONCURRENCY, async (name) => void (await patchSpec(bench, namespace, name, { replicaCount: 2 })));
    const patchSeconds = (Date.now() - started) / 1000;
    await waitUntil('the change events', () => bench.endpoint.events.length - before >= names.length, 300_000);
    return { eventsPerSecond: names.length / ((Date.now() - started) / 1000), apiWritesPerSecond: names.length / patchSeconds, ...(await forwarder.memory()) };
  } finally {
    await forwarder.stop();
  }
}

/**
 * A burst of three changes per CR (its spec, its ConfigMap, its spec again) over `names`: events
 * published per CR, and seconds until every change was seen and the queue is empty. (Which
 * change's detail an event carries depends on the order the watches deliver them in.)
 */
async function measureBurst(bench: Bench, namespace: string, names: string[], env: Record<string, string>) {
  bench.endpoint.events.length = 0;
  const forwarder = new ForwarderProcess(bench, namespace, env);
  try {
    await waitUntil('the initial sync', async () => (await forwarder.ready()) && bench.endpoint.events.length >= names.length, 300_000);
    bench.endpoint.events.length = 0;
    const { changesSeen } = await forwarder.progress();
    const started = Date.now();
    await forEachBounded(names, CONCURRENCY, async (name) => {
      await patchSpec(bench, namespace, name, { replicaCount: 3 });
      await setHostports(bench, namespace, name, `burst,${started % 60000}`);
      await patchSpec(bench, namespace, name, { replicaCount: 4 });
    });
    await waitUntil(
      'every change seen and published',
      async () => {
        const now = await forwarder.progress();
        return now.changesSeen >= changesSeen + 3 * names.length && now.queued === 0;
      },
      300_000,
    );
    return { eventsPerCr: bench.endpoint.events.length / names.length, seconds: (Date.now() - started) / 1000 };
  } finally {
    await forwarder.stop();
  }
}

export interface ForwarderBenchOptions {
  crs?: number;
  changes?: number;
  configMapBytes?: number;
  burstCrs?: number;
  /** The publish rate limit compared against none, events a second. */
  burstRate?: number;
}

export async function benchForwarder({ crs = 10_000, changes = 2_000, configMapBytes = 100 * 1024, burstCrs = 500, burstRate = 100 }: ForwarderBenchOptions = {}): Promise<Record<string, number>> {
  const cluster = await up();
  await installCrd(cluster.kubeconfig);
  const bench: Bench = {
    kubeconfig: cluster.kubeconfig,
    client: new KubeClient(clusterEndpoint({ mode: 'kubeconfig', path: cluster.kubeconfig }), { timeoutMs: 60_000 }),
    endpoint: await recordingBus(),
    bundle: await bundleForwarder(),
  };
  const suffix = randomBytes(3).toString('hex');
  const [big, burst] = [`bench-forwarder-${suffix}`, `bench-forwarder-burst-${suffix}`];
  try {
    for (const name of [big, burst]) await bench.client.request('/api/v1/namespaces', { method: 'POST', body: { metadata: { name } } });
    const names = await createCrsWithConfigMaps(bench, big, crs, configMapBytes);
    const full = await measureSync(bench, big, crs);
    await forEachBounded(names, CONCURRENCY, async (name) => void (await setHostports(bench, big, name, '')));
    const empty = await measureSync(bench, big, crs);
    bench.endpoint.events.length = 0;
    const changed = await measureChanges(bench, big, names.slice(0, changes), crs);

    const burstNames = await createCrsWithConfigMaps(bench, burst, burstCrs, 0);
    const unlimited = await measureBurst(bench, burst, burstNames, {});
    const limited = await measureBurst(bench, burst, burstNames, { PUBLISH_RATE: String(burstRate) });

    return {
      'forwarder.crs_watched': crs,
      'forwarder.configmap_kib': round(configMapBytes / 1024),
      'forwarder.sync_seconds': round(full.seconds, 2),
      'forwarder.rss_mib_after_sync': mib(full.rss),
      'forwarder.heap_used_mib_after_sync': mib(full.heap),
      'forwarder.rss_mib_settled': mib(full.settledRss),
      'forwarder.empty_configmaps.sync_seconds': round(empty.seconds, 2),
      'forwarder.empty_configmaps.rss_mib_after_sync': mib(empty.rss),
      'forwarder.empty_configmaps.rss_mib_settled': mib(empty.settledRss),
      'forwarder.rss_data_size_effect_percent': round(((full.rss - empty.rss) / empty.rss) * 100),
      'forwarder.sync_events_per_second': Math.round(crs / full.seconds),
      'forwarder.change_events_per_second': Math.round(changed.eventsPerSecond),
      'forwarder.change_api_writes_per_second': Math.round(changed.apiWritesPerSecond),
      'forwarder.rss_mib_steady': mib(changed.rss),
      'forwarder.burst.crs': burstCrs,
      'forwarder.burst.events_per_cr': round(unlimited.eventsPerCr, 2),
      'forwarder.burst.seconds': round(unlimited.seconds, 2),
      'forwarder.burst.rate_limit': burstRate,
      'forwarder.burst.rate_limited.events_per_cr': round(limited.eventsPerCr, 2),
      'forwarder.burst.rate_limited.seconds': round(limited.seconds, 2),
    };
  } finally {
    await bench.endpoint.close();
    for (const name of [big, burst]) await deleteNamespaceAndWait(bench.client, name);
    // A long-running cluster compacts its history; the next run should not find a gigabyte of it.
    await compactEtcd(cluster);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const crs = process.env.BENCH_CRS ? Number(process.env.BENCH_CRS) : undefined;
  benchForwarder({ crs, changes: crs && Math.min(crs, 2_000) }).then(
    (figures) => console.log(JSON.stringify(figures, null, 2)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
