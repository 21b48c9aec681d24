// The reconcile shared by every function: read, decide (pure), apply what drifted, report.
// Running it twice, or twenty times at once, is always safe.
import { createHash } from 'node:crypto';
import { childKindInfo, childKinds, type ChildKind, type ChildObject, type Children } from './children.js';
import { podSelector } from './desired.js';
import { ADOPT_ANNOTATION, driftOf, exactFieldsPatch } from './drift.js';
import { classifyFailure, TerminalFailureError, type TerminalReason } from './failures.js';
import { ApiError } from './kube-client.js';
import { checkSpec, defaultImagePolicy, type ImagePolicy } from './images.js';
import type { KindCustomHttp } from './kindcustomhttp.js';
import type { EventRecord, KubeApi } from './kube-api.js';
import { planChildren, type ChildPlan } from './plan.js';
import { computeStatus, statusChanged, type Observation } from './status.js';

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
  action: 'created' | 'updated' | 'recreated' | 'adopted' | 'deleted';
  /** Paths of the fields we own whose values differed, e.g. `spec.replicas`. */
  fields: string[];
}

export interface ReconcileResult {
  /**
   * `deleting`: the CR (or its namespace) is being deleted, and its children with it.
   * `degraded`: a failure no retry can fix is reported on the CR (see `reason`).
   * `out-of-scope`: the CR's namespace is not one the operator serves (WATCH_NAMESPACES).
   */
  outcome: 'not-found' | 'deleting' | 'converged' | 'degraded' | 'out-of-scope';
  reason?: TerminalReason;
  changes: ChildChange[];
  statusUpdated: boolean;
  ready: boolean;
  message?: string;
}

/** The cluster admin's choices, from the functions' settings (environment.ts). */
export interface OperatorSettings {
  images: ImagePolicy;
  /** The namespaces the operator serves; empty: every namespace. */
  namespaces: string[];
}

export const defaultOperatorSettings: OperatorSettings = { images: defaultImagePolicy, namespaces: [] };

export interface ReconcileContext {
  api: KubeApi;
  log: Log;
  /** The defaults when absent. */
  settings?: OperatorSettings;
  now?: () => Date;
}

export function inScope(settings: OperatorSettings, namespace: string): boolean {
  return settings.namespaces.length === 0 || settings.namespaces.includes(namespace);
}

const notFound: ReconcileResult = { outcome: 'not-found', changes: [], statusUpdated: false, ready: false };
const deleting: ReconcileResult = { outcome: 'deleting', changes: [], statusUpdated: false, ready: false };
const outOfScope: ReconcileResult = { outcome: 'out-of-scope', changes: [], statusUpdated: false, ready: false };

/**
 * Converges one KindCustomHttp:
 *  0. leave it alone, with no request, outside the namespaces the operator serves;
 *  1. read the CR and its children at once (their names follow from the CR's name);
 *  2. validate the spec and choose its image: an invalid spec, or an image the operator does not
 *     allow, is reported as Degraded and not retried;
 *  3. plan, child by child (plan.ts, as the resync does): create it, repair what drifted, adopt
 *     the original operator's, delete one of ours the CR no longer wants; an object in the way is
 *     reported, never touched;
 *  4. carry out only what the plan asks for;
 *  5. rebuild the status from what was observed and applied, and write it only if it changed;
 *     record one Event when existing children had to change.
 * Throws when the API failed in a way a retry may fix.
 */
export async function reconcile(context: ReconcileContext, target: ReconcileTarget): Promise<ReconcileResult> {
  const { api } = context;
  const { namespace, name } = target;
  if (!inScope(context.settings ?? defaultOperatorSettings, namespace)) return outOfScope;
  const [cr, ...found] = await Promise.all([
    api.getKindCustomHttp(namespace, name),
    ...childKinds.map((kind) => api.getChild(kind, namespace, childKindInfo[kind].name(name))),
  ]);
  if (!cr) return notFound;
  if (cr.metadata.deletionTimestamp) return deleting;
  const observed = Object.fromEntries(childKinds.flatMap((kind, index) => (found[index] ? [[kind, found[index]]] : []))) as Children;
  try {
    return await converge(context, cr, observed);
  } catch (error) {
    const failure = classifyFailure(error);
    if (failure.kind === 'gone' || failure.kind === 'terminating') return deleting;
    if (failure.kind === 'terminal') return reportFailure(context, cr, failure.reason, failure.message);
    throw error;
  }
}

async function converge(context: ReconcileContext, cr: KindCustomHttp, observed: Children): Promise<ReconcileResult> {
  const { api, log } = context;
  const parsed = checkSpec(cr.spec, (context.settings ?? defaultOperatorSettings).images);
  if (!parsed.ok) throw new TerminalFailureError(parsed.reason, parsed.message);
  const plans = planChildren(cr, parsed.spec, observed);
  const conflicts = plans.flatMap((plan) => (plan.action === 'conflict' ? [`${plan.kind} ${cr.metadata.namespace}/${plan.name} exists and is not this CR's: ${plan.why}`] : []));
  if (conflicts.length > 0) {
    // Nothing is applied: a Deployment would mount a ConfigMap that is not ours, a Service select foreign pods.
    throw new TerminalFailureError('NameConflict', `${conflicts.join('; ')}. Delete or rename it, or set the annotation ${ADOPT_ANNOTATION}=true on the CR to take it over.`);
  }

  const outcomes = await Promise.all(plans.map((plan) => carryOut(api, cr.metadata.namespace, plan as WritablePlan)));
  const changes = outcomes.flatMap(({ change }) => (change ? [change] : []));
  for (const change of changes) log.info(`${change.action} ${change.kind} ${cr.metadata.namespace}/${change.name}`, { change });

  const deployment = outcomes.find((outcome) => outcome.kind === 'Deployment')!.object as ChildObject<'Deployment'>;
  const observation: Observation = { kind: 'converged', generation: cr.metadata.generation ?? 0, selector: podSelector(cr.metadata.name), desiredReplicas: parsed.spec.replicaCount, deployment };
  return report(context, cr, observation, changes);
}

/** Writes the status rebuilt from `observation` when it changed, and an Event for `changes` worth one. */
async function report(context: ReconcileContext, cr: KindCustomHttp, observation: Observation, changes: ChildChange[]): Promise<ReconcileResult> {
  const now = context.now?.() ?? new Date();
  const status = computeStatus(cr.status, observation, now);
  const statusUpdated = statusChanged(cr.status, status);
  const event = changeEvent(cr, changes);
  await Promise.all([statusUpdated ? context.api.applyStatus(cr, status) : undefined, event ? context.api.recordEvent(cr, event, now) : undefined]);
  const ready = status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
  return { outcome: 'converged', changes, statusUpdated, ready };
}

type WritablePlan = Exclude<ChildPlan, { action: 'conflict' }>;

interface Outcome {
  kind: ChildKind;
  /** The object as it now is; undefined when there is none. */
  object?: ChildObject;
  change?: ChildChange;
}

/** Carries out one child's plan. */
async function carryOut(api: KubeApi, namespace: string, plan: WritablePlan): Promise<Outcome> {
  const { kind, name } = plan;
  const change = (action: ChildChange['action'], fields: string[] = []): ChildChange => ({ kind, name, action, fields });
  switch (plan.action) {
    case 'keep':
      return { kind, object: plan.observed };
    case 'delete':
      await api.deleteChild(kind, namespace, name, plan.observed.metadata!.uid!);
      return { kind, change: change('deleted') };
    case 'adopt':
      // Taken over by being made anew: whatever its makers set (a port, a selector entry, a file, a
      // selector that cannot change in place) goes, and nobody else's field manager stays on it.
      return { kind, object: await recreate(api, kind, plan.observed, plan.desired), change: change('adopted', plan.fields) };
    case 'create':
      return { kind, object: await applyExactly(api, kind, plan.desired), change: change('created') };
    case 'update':
      return update(api, plan, change);
  }
}

/**
 * Brings an object of ours back to what is desired. Exact fields that differ are taken over first
 * with a merge patch, which replaces a list whole: an entry of a keyed list that another manager
 * changed (a Service port, a container's name or port) would otherwise stay beside the one we
 * apply, and the apiserver refuses two ports named `http` (422), or runs two containers. The
 * patch holds only what is desired, whatever was read, so it needs no resourceVersion
 * precondition (a Deployment's version moves with every status update). Server-side apply then
 * sets whatever else drifted; a spec change of an exact field alone costs the one patch.
 */
async function update(api: KubeApi, plan: Extract<WritablePlan, { action: 'update' }>, change: (action: ChildChange['action'], fields: string[]) => ChildChange): Promise<Outcome> {
  const { kind, name, desired } = plan;
  const namespace = desired.metadata!.namespace!;
  let object = plan.observed;
  const exact = exactFieldsPatch(kind, desired, object);
  if (exact) object = await api.mergePatchChild(kind, namespace, name, exact);
  if (driftOf(kind, desired, object).length === 0) return { kind, object, change: change('updated', plan.fields) };
  try {
    return { kind, object: await applyExactly(api, kind, desired), change: change('updated', plan.fields) };
  } catch (error) {
    const immutable = error instanceof ApiError && error.code === 422 && /immutable/.test(error.message);
    if (!immutable) throw error;
    // A field that cannot change in place (a Deployment's selector): replace the child.
    return { kind, object: await recreate(api, kind, object, desired), change: change('recreated', plan.fields) };
  }
}

async function recreate(api: KubeApi, kind: ChildKind, observed: ChildObject, desired: ChildObject): Promise<ChildObject> {
  await api.deleteChild(kind, desired.metadata!.namespace!, desired.metadata!.name!, observed.metadata!.uid!);
  return applyExactly(api, kind, desired);
}

/** Server-side apply, then a merge patch of the exact fields if the apply left others' entries in them. */
async function applyExactly(api: KubeApi, kind: ChildKind, desired: ChildObject): Promise<ChildObject> {
  const object = await applyRetryingConflicts(api, kind, desired);
  const exact = exactFieldsPatch(kind, desired, object);
  return exact ? api.mergePatchChild(kind, desired.metadata!.namespace!, desired.metadata!.name!, exact) : object;
}

/** Concurrent first applies of one object can race to create it; the loser applies again. */
async function applyRetryingConflicts(api: KubeApi, kind: ChildKind, desired: ChildObject): Promise<ChildObject> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await api.applyChild(kind, desired);
    } catch (error) {
      const conflict = error instanceof ApiError && error.code === 409;
      if (!conflict || attempt >= 5) throw error;
    }
  }
}

function eventName(cr: KindCustomHttp, ...parts: Array<string | number | undefined>): string {
  const digest = createHash('sha256').update([cr.metadata.uid, ...parts].join('/')).digest('hex').slice(0, 16);
  return `${cr.metadata.name.slice(0, 200)}.${digest}`;
}

/**
 * One Event for what had to change in existing children (drift repaired, a spec change rolled
 * out, an adoption). Creating the children of a new CR records none: its status says it, and
 * each Event is one more write to the apiserver in a burst.
 */
function changeEvent(cr: KindCustomHttp, changes: ChildChange[]): EventRecord | undefined {
  const firstReconcile = cr.status?.observedGeneration === undefined;
  const reported = firstReconcile ? changes.filter((change) => change.action !== 'created') : changes;
  if (reported.length === 0) return undefined;
  const describe = (c: ChildChange) => `${c.action} ${c.kind} ${c.name}${c.fields.length > 0 ? ` (${c.fields.join(', ')})` : ''}`;
  const message = reported.map(describe).join('; ');
  return {
    name: eventName(cr, cr.metadata.resourceVersion, message),
    type: 'Normal',
    reason: changeReason(cr, reported),
    message,
  };
}

/** Adopted; Repaired when the spec is the one last converged (someone else changed the children); Updated for a new spec. */
function changeReason(cr: KindCustomHttp, changes: ChildChange[]): 'Adopted' | 'Repaired' | 'Updated' {
  if (changes.some((c) => c.action === 'adopted')) return 'Adopted';
  return cr.status?.observedGeneration === cr.metadata.generation ? 'Repaired' : 'Updated';
}

async function reportFailure(context: ReconcileContext, cr: KindCustomHttp, reason: TerminalReason, message: string): Promise<ReconcileResult> {
  const { api, log } = context;
  const generation = cr.metadata.generation ?? 0;
  const { namespace, name } = cr.metadata;
  log.warn(`${namespace}/${name}: ${reason}`, { reason, message: message.slice(0, 2000) });
  const now = context.now?.() ?? new Date();
  const status = computeStatus(cr.status, { kind: 'failed', generation, selector: podSelector(name), failure: { reason, message } }, now);
  const statusUpdated = statusChanged(cr.status, status);
  const result: ReconcileResult = { outcome: 'degraded', reason, changes: [], statusUpdated, ready: false, message };
  if (!statusUpdated) return result;
  // One Warning per distinct failure of a generation, however often it is retried.
  const event: EventRecord = { name: eventName(cr, reason, generation, message), type: 'Warning', reason, message: status.conditions!.find((c) => c.type === 'Degraded')!.message };
  const writes = await Promise.allSettled([api.applyStatus(cr, status), api.recordEvent(cr, event, now)]);
  for (const write of writes) {
    if (write.status === 'fulfilled') continue;
    const failure = classifyFailure(write.reason);
    if (failure.kind === 'gone' || failure.kind === 'terminating') return deleting;
    if (failure.kind === 'transient') throw write.reason;
    // Refused for good: nothing else can report it; the log and the metrics do.
    log.warn('could not report the failure on the CR', { error: write.reason });
  }
  return result;
}
