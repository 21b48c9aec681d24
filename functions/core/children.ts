// The kinds of object a KindCustomHttp owns, in one table: whether a CR wants one, how it is named
// and built, where it lives in the API, which of its fields must hold exactly what we want, and how
// to recognise one the original operator made. The planner (plan.ts), the apply, the resync's
// lists, the forwarder's watches, the event contract, the RBAC checks and the benchmarks all read
// it: adding a kind is an entry here, its builder in desired.ts, its RBAC rules, and tests.
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { V1ConfigMap, V1Deployment, V1PodDisruptionBudget, V1Service } from '@kubernetes/client-node';
import { configMapName, desiredConfigMap, desiredDeployment, desiredPodDisruptionBudget, desiredService, ORIGINAL_SELECTOR, workloadName } from './desired.js';
import type { KindCustomHttp, ResolvedSpec } from './kindcustomhttp.js';
import { rolloutPhase } from './status.js';

export const childKinds = ['Deployment', 'Service', 'ConfigMap', 'PodDisruptionBudget'] as const;
export type ChildKind = (typeof childKinds)[number];

interface ObjectOfKind {
  Deployment: V1Deployment;
  Service: V1Service;
  ConfigMap: V1ConfigMap;
  PodDisruptionBudget: V1PodDisruptionBudget;
}
export type ChildObject<K extends ChildKind = ChildKind> = ObjectOfKind[K];
/** One object of each kind, where there is one. */
export type Children = { [K in ChildKind]?: ChildObject<K> };

export interface ChildKindInfo<K extends ChildKind> {
  kind: K;
  apiVersion: string;
  /** The API group's path: `/apis/apps/v1` or `/api/v1`. */
  groupPath: string;
  plural: string;
  /** The child's name, from its CR's name. */
  name(crName: string): string;
  /** Whether a CR with this spec has one; absent: every CR has one. One it does not want is deleted, if ours. */
  wanted?(spec: ResolvedSpec): boolean;
  desired(cr: KindCustomHttp, spec: ResolvedSpec): ChildObject<K>;
  /**
   * Fields the child must hold exactly as desired: maps with no other entries, lists with no other
   * items. Server-side apply leaves what other managers set, but an extra selector entry selects
   * no pods, an extra port exposes what the CR does not, an extra ConfigMap key is served to the
   * pods as a file; and a keyed list's entry another manager changed (a port, a container's name)
   * stands beside the one we apply, which the apiserver refuses as a duplicate.
   */
  exactFields: string[][];
  /**
   * The part of the child's status its CR's status follows, when it has one: a change of the
   * child's status that leaves this alone needs no reconcile.
   */
  statusPhase?: (object: ChildObject<K>) => string;
  /** Whether the original Go operator made this object (its CR then adopts it); absent: it made none of this kind. */
  madeByOriginal?(object: ChildObject<K>, siblings: Children): boolean;
  /** What the resync keeps of a listed object to compare it: a ConfigMap's files as one digest. */
  compact?(object: ChildObject<K>): ChildObject<K>;
}

/** A map of files as one digest entry, so that 10,000 CRs' files never sit in memory at once. */
export function dataDigest(data: Record<string, string> | undefined): Record<string, string> {
  const hash = createHash('sha256');
  for (const key of Object.keys(data ?? {}).sort()) hash.update(`${key.length}:${key}${data![key]!.length}:${data![key]}`);
  return { '#sha256': hash.digest('hex') };
}

const hasOriginalSelector = (selector: unknown) => isDeepStrictEqual(selector, ORIGINAL_SELECTOR);

export const childKindInfo: { [K in ChildKind]: ChildKindInfo<K> } = {
  Deployment: {
    kind: 'Deployment',
    apiVersion: 'apps/v1',
    groupPath: '/apis/apps/v1',
    plural: 'deployments',
    name: workloadName,
    desired: desiredDeployment,
    exactFields: [['spec', 'template', 'spec', 'containers'], ['spec', 'template', 'spec', 'volumes']],
    statusPhase: rolloutPhase,
    madeByOriginal: (deployment) => hasOriginalSelector(deployment.spec?.selector?.matchLabels),
  },
  Service: {
    kind: 'Service',
    apiVersion: 'v1',
    groupPath: '/api/v1',
    plural: 'services',
    name: workloadName,
    desired: desiredService,
    exactFields: [['spec', 'selector'], ['spec', 'ports']],
    madeByOriginal: (service) => hasOriginalSelector(service.spec?.selector),
  },
  ConfigMap: {
    kind: 'ConfigMap',
    apiVersion: 'v1',
    groupPath: '/api/v1',
    plural: 'configmaps',
    name: configMapName,
    desired: desiredConfigMap,
    exactFields: [['data'], ['binaryData']],
    // It has no mark of its own: it is the original's when the original's Deployment stands beside it.
    madeByOriginal: (_configMap, siblings) => !!siblings.Deployment && hasOriginalSelector(siblings.Deployment.spec?.selector?.matchLabels),
    compact: (configMap) => ({ ...configMap, data: dataDigest(configMap.data), binaryData: configMap.binaryData && dataDigest(configMap.binaryData) }),
  },
  PodDisruptionBudget: {
    kind: 'PodDisruptionBudget',
    apiVersion: 'policy/v1',
    groupPath: '/apis/policy/v1',
    plural: 'poddisruptionbudgets',
    name: workloadName,
    // One pod has nothing to spare: a budget would block every node drain.
    wanted: (spec) => spec.replicaCount >= 2,
    desired: desiredPodDisruptionBudget,
    exactFields: [['spec', 'selector', 'matchLabels']],
  },
};

/** The table's entry for `kind`, typed for any kind (TypeScript cannot follow a kind variable into the table's mapped type). */
export function infoOf(kind: ChildKind): ChildKindInfo<ChildKind> {
  return childKindInfo[kind] as unknown as ChildKindInfo<ChildKind>;
}

/** Whether a CR with `spec` has a child of `kind`. */
export function isWanted(kind: ChildKind, spec: ResolvedSpec): boolean {
  return infoOf(kind).wanted?.(spec) ?? true;
}

/** The collection of a kind, in one namespace or in all. */
export function collectionPath(info: Pick<ChildKindInfo<ChildKind>, 'groupPath' | 'plural'>, namespace?: string): string {
  return namespace ? `${info.groupPath}/namespaces/${namespace}/${info.plural}` : `${info.groupPath}/${info.plural}`;
}

export function objectPath(info: Pick<ChildKindInfo<ChildKind>, 'groupPath' | 'plural'>, namespace: string, name: string): string {
  return `${collectionPath(info, namespace)}/${encodeURIComponent(name)}`;
}

/** Every child a CR with `spec` should have, by kind. */
export function desiredChildren(cr: KindCustomHttp, spec: ResolvedSpec): Children {
  return Object.fromEntries(childKinds.filter((kind) => isWanted(kind, spec)).map((kind) => [kind, infoOf(kind).desired(cr, spec)])) as Children;
}

/** The API group a kind's RBAC rules name: '' for the core group. */
export function apiGroupOf(kind: ChildKind): string {
  const { apiVersion } = childKindInfo[kind];
  return apiVersion.includes('/') ? apiVersion.split('/')[0]! : '';
}
