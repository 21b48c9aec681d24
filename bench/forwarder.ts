// Benchmark of the event forwarder against the local control plane and the recording EventBridge
// endpoint: how fast it publishes, and how much memory it holds, with 10,000 CRs watched. The
// forwarder runs as its production bundle (esbuild, as the Dockerfile builds it) in a process of
// its own, so its memory is measured alone.
import { CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { forEachBounded } from '../functions/core/concurrency.js';
import { GROUP, PLURAL, VERSION } from '../functions/core/kindcustomhttp.js';
import { kubectl, up } from '../test/cluster/cluster.js';
import { EventBridgeEndpoint } from '../test/support/eventbridge-endpoint.js';

const CONCURRENCY = 64;
const repoRoot = new URL('..', import.meta.url).pathname;

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

function residentBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : NaN;
}

async function heapUsedBytes(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const match = /^forwarder_nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
  return match ? Number(match[1]) : NaN;
}

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

export interface ForwarderBenchOptions {
  crs?: number;
  changes?: number;
}

export async function benchForwarder({ crs = 10_000, changes = 2_000 }: ForwarderBenchOptions = {}): Promise<Record<string, number>> {
  const cluster = await up();
  kubectl(cluster, ['apply', '--server-side', '--force-conflicts', '-f', join(repoRoot, 'crds/groupsp.measutosh.dev_kindcustomhttps.yaml')]);
  kubectl(cluster, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/kindcustomhttps.groupsp.measutosh.dev']);
  const config = new KubeConfig();
  config.loadFromFile(cluster.kubeconfig);
  const custom = config.makeApiClient(CustomObjectsApi);
  const core = config.makeApiClient(CoreV1Api);
  const namespace = `bench-forwarder-${randomBytes(3).toString('hex')}`;
  const ref = { group: GROUP, version: VERSION, plural: PLURAL, namespace };
  const names = Array.from({ length: crs }, (_, i) => `cr-${i}`);
  const endpoint = await EventBridgeEndpoint.start();
  let forwarder: ChildProcess | undefined;
  try {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await forEachBounded(names, CONCURRENCY, async (name) => {
      await custom.createNamespacedCustomObject({
        ...ref,
        body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'KindCustomHttp', metadata: { name }, spec: { port: 80, replicaCount: 1 } },
      });
    });

    const logPath = join(tmpdir(), `forwarder-bench-${process.pid}.log`);
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const bundle = await bundleForwarder();
    const started = Date.now();
    const log = openSync(logPath, 'w');
    forwarder = spawn(process.execPath, [bundle], {
      stdio: ['ignore', log, log],
      env: {
        PATH: process.env.PATH,
        EVENT_BUS_NAME: 'bench',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'bench',
        AWS_SECRET_ACCESS_KEY: 'bench',
        EVENTBRIDGE_ENDPOINT: endpoint.url,
        KUBECONFIG: cluster.kubeconfig,
        WATCH_NAMESPACES: namespace,
        LEADER_ELECTION: 'false',
        HTTP_PORT: String(port),
        LOG_LEVEL: 'INFO',
      },
    });
    // Start-up: one Synced event per CR, from process start to the last one on the bus.
    await waitUntil(`the initial sync (forwarder log: ${logPath})`, () => endpoint.events.length >= crs, 300_000);
    const syncSeconds = (Date.now() - started) / 1000;
    const afterSync = { rss: residentBytes(forwarder.pid!), heap: await heapUsedBytes(port) };

    // Changes: a burst of spec updates; throughput from the first update to the last event.
    const changed = names.slice(0, changes);
    const before = endpoint.events.length;
    const burstStarted = Date.now();
    const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    await forEachBounded(changed, CONCURRENCY, async (name) => {
      await custom.patchNamespacedCustomObject({ ...ref, name, body: { spec: { replicaCount: 2 } } }, mergePatch);
    });
    const patchSeconds = (Date.now() - burstStarted) / 1000;
    await waitUntil('the change events', () => endpoint.events.length - before >= changes, 300_000);
    const burstSeconds = (Date.now() - burstStarted) / 1000;
    const steady = { rss: residentBytes(forwarder.pid!), heap: await heapUsedBytes(port) };

    return {
      forwarderCrsWatched: crs,
      forwarderSyncSeconds: Math.round(syncSeconds * 100) / 100,
      forwarderSyncEventsPerSecond: Math.round(crs / syncSeconds),
      forwarderChangeEventsPerSecond: Math.round(changes / burstSeconds),
      forwarderChangeApiWritesPerSecond: Math.round(changes / patchSeconds),
      forwarderPutEventsRequests: endpoint.requests.length,
      forwarderRssMiBAfterSync: mib(afterSync.rss),
      forwarderHeapUsedMiBAfterSync: mib(afterSync.heap),
      forwarderRssMiBSteady: mib(steady.rss),
      forwarderHeapUsedMiBSteady: mib(steady.heap),
    };
  } finally {
    forwarder?.kill('SIGTERM');
    await endpoint.close();
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
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
