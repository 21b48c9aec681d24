// The watcher's decisions, pure so that each can be tested alone: what a watch line is, which
// changes become events, what a relist publishes against what was seen before, and what to do
// when a watch ends.
import { backoffDelay, type BackoffPolicy } from '../core/backoff.js';
import { ApiError, NoAnswerError } from '../core/kube-client.js';
import { KIND } from '../core/kindcustomhttp.js';
import { objectKey, recordOf, type Change, type ObjectRecord, type WatchedKind, type WatchedObject } from './mapping.js';

/** Why a watch ended. */
export type WatchEnd = 'closed' | 'gone' | 'silent' | 'backpressure' | 'error' | 'stopped';

/** One line of a watch stream, as it matters to the watcher. */
export type WatchLine =
  | { type: 'change'; change: Change; object: WatchedObject }
  | { type: 'bookmark'; resourceVersion?: string }
  | { type: 'error'; end: WatchEnd; status: { code?: number; message?: string } }
  | { type: 'unknown'; raw: string };

const watchChanges: Record<string, Change> = { ADDED: 'Added', MODIFIED: 'Modified', DELETED: 'Deleted' };

export function parseWatchLine(line: string): WatchLine {
  const { type = '', object = {} } = JSON.parse(line) as { type?: string; object?: WatchedObject & { code?: number; message?: string } };
  const { metadata = {}, code, message } = object;
  const change = watchChanges[type];
  if (change) return { type: 'change', change, object: { metadata, ...(object.status !== undefined ? { status: object.status, spec: object.spec } : {}) } };
  if (type === 'BOOKMARK') return { type: 'bookmark', resourceVersion: metadata.resourceVersion };
  if (type === 'ERROR') return { type: 'error', end: code === 410 ? 'gone' : 'error', status: { code, message } };
  return { type: 'unknown', raw: line.slice(0, 200) };
}

/**
 * Whether a change can need a reconcile, and so an event:
 * - anything deleted, and a CR added or listed;
 * - a CR modified only if its generation moved: its status or labels do not shape its children (and
 *   its own status writes would otherwise each cost one more reconcile);
 * - a child added: no, the reconcile that made it has reported it;
 * - a child modified: when its spec may have changed (its generation moved, or it has none, as
 *   Services and ConfigMaps), its owner changed, or its status left the phase its CR reports (a
 *   Deployment's rollout completing or failing). Its pods coming up one by one need no reconcile.
 */
export function worthAnEvent(kind: WatchedKind, change: Change, record: ObjectRecord, previous: ObjectRecord | undefined): boolean {
  if (change === 'Deleted') return true;
  if (kind === KIND) return change !== 'Modified' || generationMoved(record, previous);
  if (change === 'Added') return false;
  return !previous || generationMoved(record, previous) || record.owner?.uid !== previous.owner?.uid || record.phase !== previous.phase;
}

/** Its spec may have changed: its generation moved, or it keeps none (Services, ConfigMaps). */
function generationMoved(record: ObjectRecord, previous: ObjectRecord | undefined): boolean {
  return record.generation === undefined || record.generation !== previous?.generation;
}

/** What one watched change does: the event to publish (if any), and the store update. */
export interface ChangeDecision {
  key: string;
  /** Undefined for an object the forwarder does not follow (a child no CR controls). */
  record?: ObjectRecord;
  publish: boolean;
}

export function decideChange(kind: WatchedKind, change: Change, object: WatchedObject, previous: ObjectRecord | undefined): ChangeDecision {
  const key = objectKey(object.metadata ?? {});
  const record = recordOf(kind, object);
  return { key, record, publish: !!record && worthAnEvent(kind, change, record, previous) };
}

/** The watcher's memory: the last record of each object, by `namespace/name`. */
export type Store = Map<string, ObjectRecord>;

/** Applies a change to the store, as the apiserver now has it. */
export function remember(store: Store, change: Change, decision: ChangeDecision): void {
  if (!decision.record) return;
  if (change === 'Deleted') store.delete(decision.key);
  else store.set(decision.key, decision.record);
}

/**
 * Whether a listed object is published. The first list publishes every CR (Synced: a new leader
 * cannot know what its predecessor sent) and only remembers children. A relist, after a gap,
 * publishes what changed since the store in a way worth an event.
 */
export function publishListed(kind: WatchedKind, record: ObjectRecord, previous: ObjectRecord | undefined, firstList: boolean): boolean {
  if (firstList) return kind === KIND;
  if (previous?.resourceVersion === record.resourceVersion) return false;
  return worthAnEvent(kind, previous ? 'Modified' : 'Added', record, previous);
}

/** What a relist found gone: objects of the store that the list no longer has. */
export function vanished(store: Store, listed: Store): Array<[string, ObjectRecord]> {
  return [...store].filter(([key]) => !listed.has(key));
}

/** Why a list or watch failed. */
export function failureEnd(error: unknown): WatchEnd {
  if (error instanceof ApiError && error.code === 410) return 'gone';
  if (error instanceof NoAnswerError) return 'silent';
  return 'error';
}

/** After a watch ended: list again first?, and how long to wait ('room' waits for queue room). */
export interface NextStep {
  relist: boolean;
  wait: number | 'room';
  failures: number;
}

/**
 * A watch that delivered something was healthy: when the server merely ended it (or asks for a
 * relist), start over at once. Anything else waits, longer after each failure in a row.
 */
export function nextStep(end: WatchEnd, delivered: boolean, failures: number, backoff: BackoffPolicy): NextStep {
  const relist = end === 'gone';
  if (end === 'backpressure') return { relist, wait: 'room', failures: 0 };
  const streak = delivered ? 0 : failures;
  if (delivered && (end === 'closed' || end === 'gone')) return { relist, wait: 0, failures: streak };
  return { relist, wait: backoffDelay(streak, backoff), failures: streak + 1 };
}
