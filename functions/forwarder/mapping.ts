// From a watched object to the thin event the contract defines, queued under the CR it asks to
// reconcile: a CR maps to itself, a child to the CR named by its controller ownerReference. The
// watches ask for metadata alone (PartialObjectMetadata), so a CR's spec and a ConfigMap's data
// never arrive; Deployments come whole, since whether their status moved the phase their CR
// reports decides whether a change is worth an event (see children.ts' statusPhase).
import { childKindInfo, childKinds, collectionPath, type ChildKind, type ChildObject } from '../core/children.js';
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

/** An object as a watch or list delivers it: its metadata, and its status when asked for whole. */
export interface WatchedObject {
  metadata?: ObjectMetadata;
  status?: unknown;
  spec?: unknown;
}

/** What the forwarder remembers of each object: enough to name it in a Deleted event later, and to tell what changed. */
export interface ObjectRecord {
  uid: string;
  resourceVersion: string;
  generation?: number;
  owner?: { name: string; uid: string };
  /** Of a child whose status its CR follows: the phase of that status. */
  phase?: string;
}

export interface WatchedResource {
  kind: WatchedKind;
  /** The collection's path, in one namespace or in all. */
  collection: string;
  namespace?: string;
  labelSelector?: string;
  /** Watched whole rather than as metadata: its status decides which changes are worth an event. */
  whole: boolean;
}

const childSelector = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
const crKindInfo = { groupPath: `/apis/${API_VERSION}`, plural: PLURAL };

/** The CRs and every child kind of the children table, in all namespaces or in `namespace`. */
export function watchedResources(namespace?: string): WatchedResource[] {
  return [
    { kind: KIND, collection: collectionPath(crKindInfo, namespace), namespace, whole: false },
    ...childKinds.map((kind) => ({ kind, collection: collectionPath(childKindInfo[kind], namespace), namespace, labelSelector: childSelector, whole: !!childKindInfo[kind].statusPhase })),
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
export function recordOf(kind: WatchedKind, object: WatchedObject): ObjectRecord | undefined {
  const metadata = object.metadata ?? {};
  if (!metadata.uid || !metadata.resourceVersion) return undefined;
  const { uid, resourceVersion, generation } = metadata;
  if (kind === KIND) return { uid, resourceVersion, generation };
  const owner = metadata.ownerReferences?.find((ref) => ref.controller && ref.kind === KIND && ref.apiVersion.startsWith(`${GROUP}/`));
  if (!owner) return undefined;
  const statusPhase = childKindInfo[kind].statusPhase as ((child: ChildObject) => string) | undefined;
  return { uid, resourceVersion, generation, owner: { name: owner.name, uid: owner.uid }, ...(statusPhase ? { phase: statusPhase(object as ChildObject) } : {}) };
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
