// The whole path on the local stack: apply a CR -> forwarder -> bus -> reconcile function ->
// children -> pods Ready -> status Ready. Latency per CR at a steady rate, then a burst.
import { CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GROUP, PLURAL, VERSION, type KindCustomHttp } from '../functions/core/kindcustomhttp.js';
import { forEachBounded } from '../functions/core/concurrency.js';
import { installCrd, LocalStack } from '../infra/local/stack.js';
import { deleteNamespaceAndWait, percentile, round } from './stats.js';

const applyOptions = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

export interface E2eBenchOptions {
  /** CRs applied one after another at `ratePerSecond`, each timed from apply to Ready. */
  steadyCrs: number;
  ratePerSecond: number;
  /** CRs applied at once; timed until the last is Ready. */
  burstCrs: number;
}

export async function benchEndToEnd(kubeconfig: string, options: E2eBenchOptions): Promise<Record<string, number>> {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  const core = config.makeApiClient(CoreV1Api);
  const custom = config.makeApiClient(CustomObjectsApi);
  const namespace = `bench-e2e-${Date.now().toString(36)}`;
  await installCrd(kubeconfig);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const stack = await LocalStack.start({
    kubeconfig,
    logDir: join(tmpdir(), namespace),
    forwarderEnv: { WATCH_NAMESPACES: namespace, LOG_LEVEL: 'WARN' },
  });

  const appliedAt = new Map<string, number>();
  const readyAt = new Map<string, number>();
  const apply = async (name: string) => {
    appliedAt.set(name, Date.now());
    const body = { apiVersion: `${GROUP}/${VERSION}`, kind: 'KindCustomHttp', metadata: { name, namespace }, spec: { port: 80, replicaCount: 2, configMapData: { hostports: 'localhost,8080\n' } } };
    await custom.patchNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name, body, fieldManager: 'kubectl', force: true }, applyOptions);
  };
  // Polls the CRs' Ready conditions; the time a CR is first seen Ready is its convergence time.
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const list = (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace })) as { items: KindCustomHttp[] };
      const now = Date.now();
      for (const cr of list.items) {
        const ready = cr.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === cr.metadata.generation);
        if (ready && !readyAt.has(cr.metadata.name)) readyAt.set(cr.metadata.name, now);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const waitForReady = async (names: string[], timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (names.some((n) => !readyAt.has(n))) {
      if (Date.now() > deadline) throw new Error(`${names.filter((n) => !readyAt.has(n)).length} CRs not Ready after ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  try {
    const steady = Array.from({ length: options.steadyCrs }, (_, i) => `steady-${i}`);
    for (const name of steady) {
      await apply(name);
      await new Promise((r) => setTimeout(r, 1000 / options.ratePerSecond));
    }
    await waitForReady(steady, 120_000);
    const latencies = steady.map((n) => readyAt.get(n)! - appliedAt.get(n)!);

    const burst = Array.from({ length: options.burstCrs }, (_, i) => `burst-${i}`);
    const burstStart = Date.now();
    await forEachBounded(burst, 32, apply);
    const applied = Date.now() - burstStart;
    await waitForReady(burst, 600_000);
    const burstSeconds = (Math.max(...burst.map((n) => readyAt.get(n)!)) - burstStart) / 1000;

    return {
      'e2e.steady.crs': options.steadyCrs,
      'e2e.steady.rate_per_second': options.ratePerSecond,
      'e2e.apply_to_ready.p50_ms': round(percentile(latencies, 50)),
      'e2e.apply_to_ready.p95_ms': round(percentile(latencies, 95)),
      'e2e.apply_to_ready.p99_ms': round(percentile(latencies, 99)),
      'e2e.burst.crs': options.burstCrs,
      'e2e.burst.apply_seconds': round(applied / 1000, 2),
      'e2e.burst.all_ready_seconds': round(burstSeconds, 2),
      'e2e.burst.crs_per_second': round(options.burstCrs / burstSeconds),
    };
  } finally {
    polling = false;
    await poller.catch(() => undefined);
    await stack.stop();
    await deleteNamespaceAndWait(core, namespace);
  }
}
