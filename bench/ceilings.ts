// What the control plane itself can take, with no operator running: creates a second of a plain
// object (ConfigMap) and of a ClusterIP Service. Since Kubernetes 1.33 the apiserver allocates
// each ClusterIP by creating an IPAddress object under one mutex, so Services are created one
// after another however many clients ask at once; the burst's "all children" cannot beat
// burst size / this rate, and under the pods' load the rate falls further.
// And what the CRD's CEL rule on hostports costs the apiserver: CR creates a second with the CRD as
// shipped and with the same CRD less that rule, each installed under a group of its own.
// And what server-side apply costs against a plain create: the burst's Deployment (scaled to 0, so
// no pods follow) created by POST, then by apply under the functions' field manager, with the
// CPU the apiserver and etcd used for each.
import { load } from 'js-yaml';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectionPath, childKindInfo, objectPath } from '../functions/core/children.js';
import { clusterEndpoint } from '../functions/core/cluster-endpoint.js';
import { forEachBounded } from '../functions/core/concurrency.js';
import { desiredDeployment, FIELD_MANAGER } from '../functions/core/desired.js';
import type { KindCustomHttp } from '../functions/core/kindcustomhttp.js';
import { ApiError, KubeClient, PatchType } from '../functions/core/kube-client.js';
import { crdPath, installCrd } from '../infra/local/crd.js';
import { CpuSnapshot } from './cpu.js';
import { BURST_SPEC, burstSpec } from './sightings.js';
import { deleteNamespaceAndWait, round, timed } from './stats.js';

const CONCURRENCY = 32;

export async function benchCeilings(kubeconfig: string, count: number): Promise<Record<string, number>> {
  const client = new KubeClient(clusterEndpoint({ mode: 'kubeconfig', path: kubeconfig }), { timeoutMs: 60_000 });
  const namespace = `bench-ceilings-${Date.now().toString(36)}`;
  await client.request('/api/v1/namespaces', { method: 'POST', body: { metadata: { name: namespace } } });
  const names = Array.from({ length: count }, (_, i) => `object-${i}`);
  const createAll = (path: string, body: (name: string) => object) =>
    timed(() => forEachBounded(names, CONCURRENCY, async (name) => void (await client.request(path, { method: 'POST', body: body(name) }))));
  try {
    const configMaps = await createAll(`/api/v1/namespaces/${namespace}/configmaps`, (name) => ({ metadata: { name }, data: { hostports: 'localhost,8080\n' } }));
    const services = await createAll(`/api/v1/namespaces/${namespace}/services`, (name) => ({
      metadata: { name },
      spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    }));
    const [withRule, withoutRule] = [await crCreates(kubeconfig, client, namespace, names, true), await crCreates(kubeconfig, client, namespace, names, false)];
    return {
      ...(await deploymentCreates(client, namespace, names)),
      'ceilings.cr_creates_per_second_with_cel_rule': Math.round(count / (withRule / 1000)),
      'ceilings.cr_creates_per_second_without_cel_rule': Math.round(count / (withoutRule / 1000)),
      'ceilings.objects': count,
      'ceilings.configmap_creates_per_second': Math.round(count / (configMaps.ms / 1000)),
      'ceilings.clusterip_service_creates_per_second': Math.round(count / (services.ms / 1000)),
      'ceilings.clusterip_services_seconds': round(services.ms / 1000, 2),
    };
  } finally {
    await deleteNamespaceAndWait(client, namespace);
  }
}

/** The burst's Deployments, scaled to 0, created by POST and then (under other names) by server-side apply. */
async function deploymentCreates(client: KubeClient, namespace: string, names: string[]): Promise<Record<string, number>> {
  const info = childKindInfo.Deployment;
  const deployment = (name: string) => {
    const cr = { apiVersion: 'groupsp.measutosh.dev/v1', kind: 'KindCustomHttp', metadata: { name, namespace, uid: 'none' }, spec: BURST_SPEC } as KindCustomHttp;
    const body = desiredDeployment(cr, { ...burstSpec(), replicaCount: 0 });
    return { ...body, metadata: { ...body.metadata, ownerReferences: undefined } };
  };
  const measure = async (send: (name: string) => Promise<unknown>) => {
    const before = new CpuSnapshot();
    const { ms } = await timed(() => forEachBounded(names, CONCURRENCY, async (name) => void (await send(name))));
    const cpu = new CpuSnapshot().since(before, 'cpu');
    return { perSecond: Math.round(names.length / (ms / 1000)), cpuMsEach: round((((cpu['cpu.apiserver'] ?? 0) + (cpu['cpu.etcd'] ?? 0)) * 1000) / names.length, 2) };
  };
  const posted = await measure((name) => client.request(collectionPath(info, namespace), { method: 'POST', body: deployment(`post-${name}`) }));
  const applied = await measure((name) =>
    client.request(objectPath(info, namespace, `apply-${name}`), { method: 'PATCH', query: { fieldManager: FIELD_MANAGER, force: true }, body: deployment(`apply-${name}`), contentType: PatchType.apply }),
  );
  return {
    'ceilings.deployment_posts_per_second': posted.perSecond,
    'ceilings.deployment_applies_per_second': applied.perSecond,
    // The apiserver's and etcd's CPU per Deployment made, in milliseconds.
    'ceilings.deployment_post_cpu_ms': posted.cpuMsEach,
    'ceilings.deployment_apply_cpu_ms': applied.cpuMsEach,
  };
}

interface CrdDocument {
  metadata: { name: string };
  spec: { group: string; names: Record<string, unknown>; versions: Array<{ schema: { openAPIV3Schema: any } }> };
}

/** Milliseconds to create the CRs `names` (the burst's spec) in a copy of the project's CRD, with or without its CEL rule. */
async function crCreates(kubeconfig: string, client: KubeClient, namespace: string, names: string[], rule: boolean): Promise<number> {
  const crd = load(readFileSync(crdPath, 'utf8')) as CrdDocument;
  const group = `${rule ? 'ruled' : 'unruled'}.bench.local`;
  crd.spec.group = group;
  crd.metadata.name = `kindcustomhttps.${group}`;
  crd.spec.names = { kind: 'KindCustomHttp', listKind: 'KindCustomHttpList', plural: 'kindcustomhttps', singular: 'kindcustomhttp' };
  if (!rule) delete crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec.properties.configMapData['x-kubernetes-validations'];
  const path = join(tmpdir(), `${crd.metadata.name}.json`);
  writeFileSync(path, JSON.stringify(crd));
  await installCrd(kubeconfig, path);
  const collection = `/apis/${group}/v1/namespaces/${namespace}/kindcustomhttps`;
  try {
    const { ms } = await timed(() =>
      forEachBounded(names, CONCURRENCY, async (name) => void (await client.request(collection, { method: 'POST', body: { apiVersion: `${group}/v1`, kind: 'KindCustomHttp', metadata: { name }, spec: BURST_SPEC } }))),
    );
    return ms;
  } finally {
    await deleteCrd(client, crd.metadata.name);
  }
}

async function deleteCrd(client: KubeClient, name: string): Promise<void> {
  const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`;
  await client.request(path, { method: 'DELETE' });
  for (;;) {
    try {
      await client.request(path);
    } catch (error) {
      if (error instanceof ApiError && error.code === 404) return;
      throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
