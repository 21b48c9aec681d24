// The original project's walkthrough, for real: the operator's pods run the project's own peer
// server on the real node (the local stage's DEFAULT_IMAGE), answer their probes, reach each other
// by pod IP and through the Service by name, and follow a `hostports` edit without a restart. The
// whole local stack drives it, as `npm start` does: kubectl, the forwarder, the bus, the functions.
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realNodeName, realNodeNamespace, requireRunning } from '../../infra/local/cluster/index.js';
import { peerServerImage, provideImage } from '../../infra/local/images/index.js';
import type { LocalStack } from '../../infra/local/stack.js';
import { startTestStack } from '../support/stack.js';
import { adminClients, deleteNamespace, eventually, installCrd, kubectlOk, originalSample, uniqueName } from '../support/kube.js';
import { condition, getCr } from '../support/operator.js';

const { core } = adminClients();
let namespace: string;
let stack: LocalStack;

const instancePods = async (name: string): Promise<V1Pod[]> =>
  (await core.listNamespacedPod({ namespace, labelSelector: `app.kubernetes.io/instance=${name}` })).items.filter((pod) => !pod.metadata?.deletionTimestamp);

const isReady = (pod: V1Pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

/** The CR's pods once `count` of them run Ready on the real node. */
function readyPods(name: string, count: number, timeoutMs = 120_000): Promise<V1Pod[]> {
  return eventually(`${count} Ready pods of ${name}`, async () => {
    const pods = await instancePods(name);
    return pods.length === count && pods.every(isReady) ? pods : undefined;
  }, { timeoutMs, intervalMs: 500 });
}

const podLogs = (pod: V1Pod) => core.readNamespacedPodLog({ namespace, name: pod.metadata!.name! });

/** `curl` inside a pod (the peer server image's own, not the real curl): what the walkthrough runs. */
const curlFrom = (pod: V1Pod, url: string) => kubectlOk(['exec', '-n', namespace, pod.metadata!.name!, '--', 'curl', '-s', url]);

async function applyCr(name: string, spec: Record<string, unknown>): Promise<void> {
  const cr = { apiVersion: 'groupsp.measutosh.dev/v1', kind: 'KindCustomHttp', metadata: { name, namespace }, spec };
  await kubectlOk(['apply', '-f', '-'], JSON.stringify(cr));
}

/** Waits until every pod of `name` has logged a line matching `pattern`. */
async function everyPodLogs(name: string, pattern: RegExp, timeoutMs: number): Promise<void> {
  await eventually(`every pod of ${name} to log ${pattern}`, async () => {
    const pods = await instancePods(name);
    const logs = await Promise.all(pods.map(podLogs));
    return pods.length > 0 && logs.every((log) => pattern.test(log));
  }, { timeoutMs, intervalMs: 2_000 });
}

beforeAll(async () => {
  const state = requireRunning();
  await installCrd();
  await provideImage(state, peerServerImage);
  namespace = uniqueName('walkthrough');
  await core.createNamespace({ body: realNodeNamespace(namespace) });
  stack = await startTestStack(namespace);
});

afterAll(async () => {
  await stack?.stop();
  await deleteNamespace(namespace);
});

describe('the original walkthrough on the real node', () => {
  const sample = 'kindcustomhttp-sample';

  it('runs the sample CR\'s pods on the real node, Ready through the real readiness probe', async () => {
    await kubectlOk(['apply', '-f', '-'], originalSample(namespace));

    const pods = await readyPods(sample, 2);
    for (const pod of pods) {
      expect(pod.spec?.nodeName).toBe(realNodeName);
      expect(pod.status?.containerStatuses?.[0]).toMatchObject({ ready: true, restartCount: 0, image: expect.stringContaining('stimulated-peering/peer-server') });
      expect(pod.status?.containerStatuses?.[0]?.state?.running).toBeDefined();
    }
    await eventually('the CR to be Ready', async () => condition(await getCr(namespace, sample), 'Ready')?.status === 'True', { timeoutMs: 60_000 });
    // Its hostports is `localhost,8080`: each pod pings itself.
    await everyPodLogs(sample, /pong from localhost:8080/, 40_000);
  });

  it('answers /ping from inside a pod: another pod by IP on 8080, the Service by name on its port and on 8080', async () => {
    const [first, second] = await readyPods(sample, 2);
    const hostnameOf = (pod: V1Pod) => pod.metadata!.name!;

    expect(await curlFrom(first!, `http://${second!.status!.podIP}:8080/ping`)).toBe(`pong from ${hostnameOf(second!)}`);
    const names = new Set([hostnameOf(first!), hostnameOf(second!)].map((host) => `pong from ${host}`));
    for (const url of [`http://${sample}/ping`, `http://${sample}.${namespace}.svc.cluster.local:80/ping`, `http://${sample}:8080/ping`]) {
      expect(names).toContain(await curlFrom(first!, url));
    }
  });

  it('lets two CRs ping each other through their Services, as hostports written for this operator and for the original name them', async () => {
    // a names b as this operator's Service exposes it (its port); b names a as the original's
    // headless Service let users write it (8080, short and fully qualified).
    await applyCr('peer-a', { port: 80, replicaCount: 1, configMapData: { hostports: 'peer-b,80\n' } });
    await applyCr('peer-b', { port: 80, replicaCount: 1, configMapData: { hostports: `peer-a,8080\npeer-a.${namespace}.svc.cluster.local,8080\n` } });
    await Promise.all([readyPods('peer-a', 1), readyPods('peer-b', 1)]);

    await Promise.all([
      everyPodLogs('peer-a', /pong from peer-b:80\b/, 40_000),
      everyPodLogs('peer-b', new RegExp(`pong from peer-a:8080[\\s\\S]*pong from peer-a\\.${namespace}\\.svc\\.cluster\\.local:8080|pong from peer-a\\.${namespace}\\.svc\\.cluster\\.local:8080[\\s\\S]*pong from peer-a:8080`), 40_000),
    ]);
    // And b's server logged the pings it answered.
    await everyPodLogs('peer-b', /pong from peer-b-[a-z0-9]+-[a-z0-9]+$/m, 10_000);
  });

  it('brings a hostports edit to the running pods without restarting them', async () => {
    const before = await readyPods('peer-a', 1);
    await kubectlOk(['patch', '-n', namespace, 'kch', 'peer-a', '--type=merge', '-p', JSON.stringify({ spec: { configMapData: { hostports: `peer-b,80\n${sample},80\n` } } })]);

    await everyPodLogs('peer-a', new RegExp(`pong from ${sample}:80\\b`), 90_000);
    const after = await readyPods('peer-a', 1);
    expect(after.map((pod) => pod.metadata?.uid)).toEqual(before.map((pod) => pod.metadata?.uid));
    expect(after[0]!.status?.containerStatuses?.[0]?.restartCount).toBe(0);
  });

  it('keeps the pods of a CR without configMapData Ready and their logs quiet', async () => {
    await applyCr('no-peers', { port: 80, replicaCount: 1 });
    const [pod] = await readyPods('no-peers', 1);
    const started = new Date(pod!.status!.startTime!).getTime();
    await new Promise((r) => setTimeout(r, 5_000));

    // Each line without the time it was logged at: a spinning server logs the same words over and over.
    const lines = (await podLogs(pod!)).split('\n').filter(Boolean).map((line) => line.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, ''));
    const seconds = (Date.now() - started) / 1000;
    const counts = new Map<string, number>();
    for (const line of lines) counts.set(line, (counts.get(line) ?? 0) + 1);
    for (const [line, count] of counts) expect(count, `"${line}" ${count} times in ${seconds.toFixed(0)} s`).toBeLessThanOrEqual(Math.max(1, seconds));
  });

  it('scales with kubectl scale and removes the pods with the CR', async () => {
    await kubectlOk(['scale', '-n', namespace, 'kch', sample, '--replicas=3']);
    expect((await readyPods(sample, 3)).every((pod) => pod.status?.phase === 'Running')).toBe(true);

    await kubectlOk(['delete', '-n', namespace, 'kch', sample]);
    await eventually('the sample\'s pods to be gone', async () => (await core.listNamespacedPod({ namespace, labelSelector: `app.kubernetes.io/instance=${sample}` })).items.length === 0, { timeoutMs: 90_000 });
  });
});
