// From a watched object to the thin event the contract defines: a CR maps to itself, a child to
// the CR named by its controller ownerReference. Only metadata is read; spec and data never leave.
import type { KubernetesObject } from '@kubernetes/client-node';
import { LABEL_MANAGED_BY, MANAGED_BY } from '../core/desired.js';
import { childChangedEntry, eventKey, resourceChangedEntry, type changeTypes, type childKinds } from '../core/event-contract.js';
import { API_VERSION, KIND, PLURAL } from '../core/kindcustomhttp.js';
import type { PendingEvent } from './queue.js';

export type Change = (typeof changeTypes)[number];
export type ChildKind = (typeof childKinds)[number];
export type WatchedKind = typeof KIND | ChildKind;

/** What the forwarder remembers of each object: enough to name it in a Deleted event later. */
export interface ObjectRecord {
  uid: string;
  resourceVersion: string;
  generation?: number;
  owner?: { name: string; uid: string };
}

export interface WatchedResource {
  kind: WatchedKind;
  apiVersion: string;
  /** The collection's path, without a namespace. */
  path: { group: string; plural: string; namespace?: string };
  labelSelector?: string;
}

const childSelector = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;

/** The four collections the forwarder watches, in all namespaces or in `namespace`. */
export function watchedResources(namespace?: string): WatchedResource[] {
  return [
    { kind: KIND, apiVersion: API_VERSION, path: { group: `apis/${API_VERSION}`, plural: PLURAL, namespace } },
    { kind: 'Deployment', apiVersion: 'apps/v1', path: { group: 'apis/apps/v1', plural: 'deployments', namespace }, labelSelector: childSelector },
    { kind: 'Service', apiVersion: 'v1', path: { group: 'api/v1', plural: 'services', namespace }, labelSelector: childSelector },
    { kind: 'ConfigMap', apiVersion: 'v1', path: { group: 'api/v1', plural: 'configmaps', namespace }, labelSelector: childSelector },
  ];
}

export function collectionPath(resource: WatchedResource): string {
  const { group, plural, namespace } = resource.path;
  return namespace ? `/${group}/namespaces/${namespace}/${plural}` : `/${group}/${plural}`;
}

/** A name for logs and metric labels: the kind, and the namespace when watching one. */
export function resourceLabel(resource: WatchedResource): string {
  return resource.path.namespace ? `${resource.kind}/${resource.path.namespace}` : resource.kind;
}

export function objectKey(kind: WatchedKind, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

/** The object's record, or undefined for a child that has no KindCustomHttp controller. */
export function recordOf(kind: WatchedKind, object: KubernetesObject): ObjectRecord | undefined {
  const metadata = object.metadata ?? {};
  if (!metadata.uid || !metadata.resourceVersion) return undefined;
  if (kind === KIND) return { uid: metadata.uid, resourceVersion: metadata.resourceVersion, generation: metadata.generation };
  const owner = metadata.ownerReferences?.find((ref) => ref.controller && ref.kind === KIND && ref.apiVersion.startsWith(`${API_VERSION.split('/')[0]}/`));
  if (!owner) return undefined;
  return { uid: metadata.uid, resourceVersion: metadata.resourceVersion, owner: { name: owner.name, uid: owner.uid } };
}

/** The bus event for one change of one object, built with the contract's helpers. */
export function eventFor(kind: WatchedKind, namespace: string, name: string, record: ObjectRecord, change: Change): PendingEvent {
  const key = eventKey(record.uid, record.resourceVersion, change);
  const common = { key, namespace, name, uid: record.uid, resourceVersion: record.resourceVersion, change };
  const entry =
    kind === KIND
      ? resourceChangedEntry({ ...common, ...(record.generation !== undefined ? { generation: record.generation } : {}) })
      : childChangedEntry({ ...common, kind, owner: record.owner! });
  const subject = { namespace, name, change, ...(kind === KIND ? {} : { kind }) };
  return { objectKey: objectKey(kind, namespace, name), eventKey: key, entry, subject };
}
