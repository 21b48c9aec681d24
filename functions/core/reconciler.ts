// The reconcile loop shared by every function: read, decide (pure), apply, report. Running it
// twice, or twenty times at once, is always safe.
import type { V1Deployment } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { configMapName, desiredChildren, strayEntriesPatch, workloadName } from './desired.js';
import { parseSpec, type KindCustomHttp } from './kindcustomhttp.js';
import { RejectedApiError, type ChildKind, type ChildObject, type EventRecord, type KubeApi } from './kube-api.js';
import { computeStatus, statusChanged, type Observation, type TerminalFailure } from './status.js';

/** The part of a logger the core needs (Powertools' Logger fits it). */
export interface Log {
  info(message: string, ...extra: Array<Record<string, unknown>>): void;
  warn(message: string, ...extra: Array<Record<string, unknown>>): void;
}

export interface ReconcileTarget {
  namespace: string;
  name: string;
}

export interface ChildChange {
  kind: ChildKind;
  name: string;
  action: 'created' | 'updated' | 'recreated';
  /** Paths of the fields we own whose values differed, e.g. `spec.replicas`. */
  fields: string[];
}

export interface ReconcileResult {
  /** `deleting`: the CR (or its namespace) is being deleted, and its children with it. */
  outcome: 'not-found' | 'deleting' | 'converged' | 'invalid' | 'rejected';
  changes: ChildChange[];
  statusUpdated: boolean;
  ready: boolean;
  message?: string;
}

export interface ReconcileContext {
  api: KubeApi;
  log: Log;
  now?: () => Date;
}

const childKinds: ChildKind[] = ['ConfigMap', 'Deployment', 'Service'];
const deleting: ReconcileResult = { outcome: 'deleting', changes: [], statusUpdated: false, ready: false };

function childName(kind: ChildKind, crName: string): string {
  return kind === 'ConfigMap' ? configMapName(crName) : workloadName(crName);
}

/**
 * Converges one KindCustomHttp:
 *  1. read the CR and its children (at once: child names follow from the CR's name);
 *  2. validate the spec: an invalid one is reported as Degraded and not retried;
 *  3. apply the desired children with server-side apply (a no-op when nothing drifted);
 *  4. rebuild the status from what the apply returned, and write it only if it changed;
 *  5. record an Event on the CR for each change.
 * Throws TransientApiError when the API failed in a way a retry may fix.
 */
export async function reconcile(context: ReconcileContext, target: ReconcileTarget): Promise<ReconcileResult> {
  const { api, log } = context;
  const now = context.now ?? (() => new Date());
  const { namespace, name } = target;

  const [cr, ...observed] = await Promise.all([
    api.getKindCustomHttp(namespace, name),
    ...childKinds.map((kind) => api.getChild(kind, namespace, childName(kind, name))),
  ]);
  if (!cr) {
    // Deleted: the garbage collector removes the children through their ownerReferences.
    return { outcome: 'not-found', changes: [], statusUpdated: false, ready: false };
  }
  if (cr.metadata.deletionTimestamp) return deleting;
  const generation = cr.metadata.generation ?? 0;

  const parsed = parseSpec(cr.spec);
  if (!parsed.ok) {
    return reportFailure(context, cr, 'invalid', { reason: 'InvalidSpec', message: parsed.message }, now());
  }

  const desired = desiredChildren(cr, parsed.spec);
  const byKind = { ConfigMap: desired.configMap, Deployment: desired.deployment, Service: desired.service };
  let applied: Array<{ object: ChildObject; change?: ChildChange }>;
  try {
    applied = await Promise.all(childKinds.map((kind, index) => applyChild(api, byKind[kind], observed[index])));
  } catch (error) {
    if (error instanceof RejectedApiError && error.namespaceTerminating) return deleting;
    if (error instanceof RejectedApiError && (error.code === 400 || error.code === 422)) {
      return reportFailure(context, cr, 'rejected', { reason: 'ApplyRejected', message: error.message }, now());
    }
    throw error;
  }

  const changes = applied.flatMap(({ change }) => (change ? [change] : []));
  for (const change of changes) {
    log.info(`${change.action} ${change.kind} ${namespace}/${change.name}`, { namespace, name, change });
  }

  const deployment = applied[childKinds.indexOf('Deployment')]!.object as V1Deployment;
  const observation: Observation = { kind: 'converged', generation, desiredReplicas: parsed.spec.replicaCount, deployment };
  const status = computeStatus(cr.status, observation, now());
  const statusUpdated = statusChanged(cr.status, status);
  const events = changes.map((change) => changeEvent(cr, change, applied));
  await Promise.all([
    statusUpdated ? api.applyStatus(cr, status) : undefined,
    ...events.map((event) => api.recordEvent(cr, event, now())),
  ]);
  const ready = status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  return { outcome: 'converged', changes, statusUpdated, ready };
}

/** Applies one child and says what changed, comparing resourceVersions before and after. */
async function applyChild(api: KubeApi, desired: ChildObject, before: ChildObject | undefined): Promise<{ object: ChildObject; change?: ChildChange }> {
  const kind = desired.kind as ChildKind;
  const { name, namespace } = desired.metadata as { name: string; namespace: string };
  const fields = before ? changedFields(desired, before) : [];
  let action: ChildChange['action'] = before ? 'updated' : 'created';
  let object: ChildObject;
  try {
    object = await applyRetryingConflicts(api, desired);
  } catch (error) {
    if (!(before && error instanceof RejectedApiError && error.code === 422 && /immutable/.test(error.message))) throw error;
    // A Deployment made by the original operator selects pods by a label every CR shared, and a
    // selector cannot be changed in place: replace the Deployment.
    await api.deleteChild(kind, namespace, name);
    object = await applyRetryingConflicts(api, desired);
    action = 'recreated';
  }
  const strayPatch = strayEntriesPatch(desired, object);
  if (strayPatch) {
    object = await api.mergePatchChild(object, strayPatch);
    fields.push(...Object.keys(strayPatch));
  }
  if (before && action !== 'recreated' && object.metadata?.resourceVersion === before.metadata?.resourceVersion) {
    return { object };
  }
  return { object, change: { kind, name, action, fields } };
}

/** Concurrent first applies of one object can race to create it; the loser applies again. */
async function applyRetryingConflicts(api: KubeApi, desired: ChildObject): Promise<ChildObject> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await api.applyChild(desired);
    } catch (error) {
      const conflict = error instanceof RejectedApiError && error.code === 409;
      if (!conflict || attempt >= 5) throw error;
    }
  }
}

/** Paths under `desired` whose values `actual` lacks or holds differently: what an apply will change. */
export function changedFields(desired: unknown, actual: unknown, path = ''): string[] {
  if (desired !== null && typeof desired === 'object' && !Array.isArray(desired)) {
    const actualObject = actual !== null && typeof actual === 'object' && !Array.isArray(actual) ? (actual as Record<string, unknown>) : {};
    return Object.entries(desired).flatMap(([key, value]) =>
      path === '' && key === 'status' ? [] : changedFields(value, actualObject[key], path ? `${path}.${key}` : key),
    );
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(actual) || actual.length !== desired.length) return [path];
    return desired.some((item, index) => changedFields(item, actual[index]).length > 0) ? [path] : [];
  }
  return isDeepStrictEqual(desired, actual) ? [] : [path];
}

function eventName(cr: KindCustomHttp, ...parts: Array<string | number | undefined>): string {
  const digest = createHash('sha256').update([cr.metadata.uid, ...parts].join('/')).digest('hex').slice(0, 16);
  return `${cr.metadata.name.slice(0, 200)}.${digest}`;
}

function changeEvent(cr: KindCustomHttp, change: ChildChange, applied: Array<{ object: ChildObject }>): EventRecord {
  const after = applied.find(({ object }) => object.kind === change.kind)?.object.metadata?.resourceVersion;
  const reason = { created: 'Created', updated: 'Updated', recreated: 'Recreated' }[change.action];
  const detail = change.fields.length > 0 ? ` (${change.fields.join(', ')})` : '';
  return {
    name: eventName(cr, change.kind, change.action, after),
    type: 'Normal',
    reason,
    message: `${change.action} ${change.kind} ${change.name}${detail}`,
  };
}

async function reportFailure(
  context: ReconcileContext,
  cr: KindCustomHttp,
  outcome: 'invalid' | 'rejected',
  failure: TerminalFailure,
  now: Date,
): Promise<ReconcileResult> {
  const { api, log } = context;
  const generation = cr.metadata.generation ?? 0;
  const { namespace, name } = cr.metadata;
  log.warn(`${namespace}/${name}: ${failure.reason}: ${failure.message}`, { namespace, name, failure });
  const status = computeStatus(cr.status, { kind: 'failed', generation, failure }, now);
  const statusUpdated = statusChanged(cr.status, status);
  if (statusUpdated) {
    // One Warning per distinct failure of a generation, however often it is retried.
    const event: EventRecord = { name: eventName(cr, failure.reason, generation, failure.message), type: 'Warning', reason: failure.reason, message: failure.message };
    await Promise.all([api.applyStatus(cr, status), api.recordEvent(cr, event, now)]);
  }
  return { outcome, changes: [], statusUpdated, ready: false, message: failure.message };
}

