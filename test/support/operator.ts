// Fixtures for tests of the operator's functions against the real control plane.
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { childKindInfo, childKinds, isWanted, type ChildKind, type Children } from '../../functions/core/children.js';
import { checkSpec, defaultImagePolicy } from '../../functions/core/images.js';
import { GROUP, PLURAL, VERSION, type KindCustomHttp } from '../../functions/core/kindcustomhttp.js';
import { KubeApi } from '../../functions/core/kube-api.js';
import { reconcile, type Log, type ReconcileResult } from '../../functions/core/reconciler.js';
import { ApiError } from '../../functions/core/kube-client.js';
import { adminClients, adminKubeClient, eventually, reconcilerKubeClient } from './kube.js';

export const silentLog: Log = { info: () => {}, warn: () => {} };

/** The functions' API as they run: as their own identity, under infra/reconciler's RBAC and admission policy. */
export function operatorApi(): KubeApi {
  return new KubeApi(reconcilerKubeClient());
}

export interface SampleSpec {
  replicaCount?: number;
  port?: number;
  configMapData?: Record<string, string>;
  [field: string]: unknown;
}

export function kindCustomHttp(namespace: string, name: string, spec: SampleSpec = {}) {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'KindCustomHttp',
    metadata: { name, namespace },
    spec: { port: 80, replicaCount: 2, configMapData: { hostports: 'localhost,8080\n' }, ...spec },
  };
}

const crRef = (namespace: string) => ({ group: GROUP, version: VERSION, plural: PLURAL, namespace });

export async function createCr(namespace: string, name: string, spec: SampleSpec = {}): Promise<KindCustomHttp> {
  return (await adminClients().custom.createNamespacedCustomObject({ ...crRef(namespace), body: kindCustomHttp(namespace, name, spec) })) as KindCustomHttp;
}

export async function getCr(namespace: string, name: string): Promise<KindCustomHttp> {
  return (await adminClients().custom.getNamespacedCustomObject({ ...crRef(namespace), name })) as KindCustomHttp;
}

/** Changes spec fields with a merge patch, as `kubectl patch --type=merge` would. */
export async function patchCrSpec(namespace: string, name: string, spec: SampleSpec): Promise<void> {
  await mergePatchCr(namespace, name, { spec });
}

export async function patchCrMetadata(namespace: string, name: string, metadata: Record<string, unknown>): Promise<void> {
  await mergePatchCr(namespace, name, { metadata });
}

/** Writes status fields through the status subresource, as the reconciler does. */
export async function patchCrStatus(namespace: string, name: string, status: Record<string, unknown>): Promise<void> {
  await adminClients().custom.patchNamespacedCustomObjectStatus({ ...crRef(namespace), name, body: { status } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
}

async function mergePatchCr(namespace: string, name: string, body: object): Promise<void> {
  await adminClients().custom.patchNamespacedCustomObject({ ...crRef(namespace), name, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
}

export async function deleteCr(namespace: string, name: string): Promise<void> {
  await adminClients().custom.deleteNamespacedCustomObject({ ...crRef(namespace), name });
}

/** The object, or undefined when the read answers 404; any other failure fails the test. */
export async function orUndefined<T>(promise: Promise<T>): Promise<T | undefined> {
  try {
    return await promise;
  } catch (error) {
    const code = (error as { code?: number }).code;
    if (code === 404 || (error instanceof ApiError && error.code === 404)) return undefined;
    throw error;
  }
}

/** Every child of the CR that exists, by kind (the kinds of the children table): absent ones are left out. */
export async function readChildren(namespace: string, name: string): Promise<Children> {
  const admin = new KubeApi(adminKubeClient());
  const found = await Promise.all(childKinds.map((kind) => admin.getChild(kind, namespace, childKindInfo[kind].name(name))));
  return Object.fromEntries(childKinds.flatMap((kind, index) => (found[index] ? [[kind, found[index]]] : []))) as Children;
}

/** The kinds of child a CR with `spec` has, by the children table (`spec` must be valid). */
export function wantedKinds(spec: unknown): ChildKind[] {
  const parsed = checkSpec(spec, defaultImagePolicy);
  if (!parsed.ok) throw new Error(parsed.message);
  return childKinds.filter((kind) => isWanted(kind, parsed.spec));
}

/** The kinds of child a CR made by kindCustomHttp() with `spec` has. */
export const sampleKinds = (spec: SampleSpec = {}) => wantedKinds(kindCustomHttp('ns', 'name', spec).spec);

/** The kinds of child the CR's spec wants that do not exist (its spec must be valid). */
export async function missingChildren(namespace: string, name: string): Promise<ChildKind[]> {
  const [cr, children] = await Promise.all([getCr(namespace, name), readChildren(namespace, name)]);
  return wantedKinds(cr.spec).filter((kind) => !children[kind]);
}

/** The resourceVersions of a CR and its children, to prove a reconcile wrote nothing. */
export async function resourceVersions(namespace: string, name: string): Promise<Record<string, string | undefined>> {
  const [cr, children] = await Promise.all([getCr(namespace, name), readChildren(namespace, name)]);
  return { cr: cr.metadata.resourceVersion, ...Object.fromEntries(childKinds.map((kind) => [kind, children[kind]?.metadata?.resourceVersion])) };
}

/** Reconciles until the CR reports Ready, as the forwarder's Deployment events would trigger. */
export async function reconcileUntilReady(api: KubeApi, namespace: string, name: string): Promise<ReconcileResult> {
  return eventually(`${namespace}/${name} to be Ready`, async () => {
    const result = await reconcile({ api, log: silentLog }, { namespace, name });
    return result.ready ? result : undefined;
  }, { timeoutMs: 60_000, intervalMs: 300 });
}

export function condition(cr: KindCustomHttp, type: string) {
  return cr.status?.conditions?.find((c) => c.type === type);
}
