// From a watched object's metadata to the thin event the contract defines, queued under the CR it
// asks to reconcile: a CR maps to itself, a child to the CR named by its controller ownerReference.
// Only metadata is ever read (the watches ask for PartialObjectMetadata): spec and data never arrive.
import { childKindInfo, childKinds, collectionPath, type ChildKind } from '../core/children.js';
import { LABEL_MANAGED_BY, MANAGED_BY } from '../core/desired.js';
import { childChangedEntry, eventKey, resourceChangedEntry, type changeTypes } from '../core/event-contract.js';
import { API_VERSION, GROUP, KIND, PLURAL } from '../core/kindcustomhttp.js';
import type { PendingEvent } from './queue.js';

export type Change = (typeof changeTypes)[number];
export type WatchedKind = typeof KIND | ChildKind;

/** The part of an object's metadata the forwarder reads. */
export interface ObjectMetadata {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>;
}

/** What the forwarder remembers of each object: enough to name it in a Deleted event later. */
export interface ObjectRecord {
  uid: string;
  resourceVersion: string;
  generation?: number;
  owner?: { name: string; uid: string };
}

export interface WatchedResource {
  kind: WatchedKind;
  /** The collection's path, in one namespace or in all. */
  collection: string;
  namespace?: string;
  labelSelector?: string;
}

const childSelector = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
const crKindInfo = { groupPath: `/apis/${API_VERSION}`, plural: PLURAL };

/** The CRs and every child kind of the children table, in all namespaces or in `namespace`. */
export function watchedResources(namespace?: string): WatchedResource[] {
  return [
    { kind: KIND, collection: collectionPath(crKindInfo, namespace), namespace },
    ...childKinds.map((kind) => ({ kind, collection: collectionPath(childKindInfo[kind], namespace), namespace, labelSelector: childSelector })),
  ];
}

/** A name for logs and metric labels: the kind, and the namespace when watching one. */
export function resourceLabel(resource: WatchedResource): string {
  return resource.namespace ? `${resource.kind}/${resource.namespace}` : resource.kind;
}

/** The key of an object in the watcher's store. */
export function objectKey(metadata: ObjectMetadata): string {
  return `${metadata.namespace}/${metadata.name}`;
}

/** The object's record, or undefined for a child that has no KindCustomHttp controller. */
export function recordOf(kind: WatchedKind, metadata: ObjectMetadata): ObjectRecord | undefined {
  if (!metadata.uid || !metadata.resourceVersion) return undefined;
  if (kind === KIND) return { uid: metadata.uid, resourceVersion: metadata.resourceVersion, generation: metadata.generation };
  const owner = metadata.ownerReferences?.find((ref) => ref.controller && ref.kind === KIND && ref.apiVersion.startsWith(`${GROUP}/`));
  if (!owner) return undefined;
  return { uid: metadata.uid, resourceVersion: metadata.resourceVersion, owner: { name: owner.name, uid: owner.uid } };
}

/** The work-queue key of an object's change: the CR to reconcile, `namespace/name`. */
export function reconcileKey(namespace: string, name: string, record: ObjectRecord): string {
  return `${namespace}/${record.owner?.name ?? name}`;
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
  return { key: reconcileKey(namespace, name, record), eventKey: key, entry, subject };
}
