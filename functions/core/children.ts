// The three kinds of object a KindCustomHttp owns, in one table: how each is named and built,
// where it lives in the API, and which of its maps must hold exactly what we want. The desired
// state, the apply, drift detection, the resync's lists and the forwarder's watches all read it.
import type { V1ConfigMap, V1Deployment, V1Service } from '@kubernetes/client-node';
import { configMapName, desiredConfigMap, desiredDeployment, desiredService, workloadName } from './desired.js';
import type { KindCustomHttp, ResolvedSpec } from './kindcustomhttp.js';
import { rolloutPhase } from './status.js';

export const childKinds = ['Deployment', 'Service', 'ConfigMap'] as const;
export type ChildKind = (typeof childKinds)[number];

interface ObjectOfKind {
  Deployment: V1Deployment;
  Service: V1Service;
  ConfigMap: V1ConfigMap;
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
  desired(cr: KindCustomHttp, spec: ResolvedSpec): ChildObject<K>;
  /**
   * Fields the child must hold exactly as desired: maps with no other entries, lists with no other
   * items. Server-side apply leaves what other managers set, but an extra selector entry selects
   * no pods, an extra port exposes what the CR does not, an extra ConfigMap key is served to the
   * pods as a file.
   */
  exactFields: string[][];
  /**
   * The part of the child's status its CR's status follows, when it has one: a change of the
   * child's status that leaves this alone needs no reconcile.
   */
  statusPhase?: (object: ChildObject<K>) => string;
}

export const childKindInfo: { [K in ChildKind]: ChildKindInfo<K> } = {
  Deployment: {
    kind: 'Deployment',
    apiVersion: 'apps/v1',
    groupPath: '/apis/apps/v1',
    plural: 'deployments',
    name: workloadName,
    desired: desiredDeployment,
    exactFields: [],
    statusPhase: rolloutPhase,
  },
  Service: {
    kind: 'Service',
    apiVersion: 'v1',
    groupPath: '/api/v1',
    plural: 'services',
    name: workloadName,
    desired: desiredService,
    exactFields: [['spec', 'selector'], ['spec', 'ports']],
  },
  ConfigMap: {
    kind: 'ConfigMap',
    apiVersion: 'v1',
    groupPath: '/api/v1',
    plural: 'configmaps',
    name: configMapName,
    desired: desiredConfigMap,
    exactFields: [['data'], ['binaryData']],
  },
};

/** The collection of a kind, in one namespace or in all. */
export function collectionPath(info: Pick<ChildKindInfo<ChildKind>, 'groupPath' | 'plural'>, namespace?: string): string {
  return namespace ? `${info.groupPath}/namespaces/${namespace}/${info.plural}` : `${info.groupPath}/${info.plural}`;
}

export function objectPath(info: Pick<ChildKindInfo<ChildKind>, 'groupPath' | 'plural'>, namespace: string, name: string): string {
  return `${collectionPath(info, namespace)}/${encodeURIComponent(name)}`;
}

/** Every child a CR should have, by kind. */
export function desiredChildren(cr: KindCustomHttp, spec: ResolvedSpec): { [K in ChildKind]: ChildObject<K> } {
  return Object.fromEntries(childKinds.map((kind) => [kind, childKindInfo[kind].desired(cr, spec)])) as { [K in ChildKind]: ChildObject<K> };
}
