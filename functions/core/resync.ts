// The periodic full resync, from lists: every KindCustomHttp and every child the operator labels,
// page by page, planned in memory by the reconcile's own planner (plan.ts). Only the CRs whose plan
// is not empty (a child missing, drifted, or not wanted any more), or whose status is stale, are
// reconciled, so a resync of an unchanged
// cluster costs a few requests per page, not per CR, and writes nothing. A run cut short by its
// time budget leaves the CRs it did not reach drifted, and the next run finds them again.
import { childKindInfo, childKinds, dataDigest, infoOf, type ChildKind, type ChildObject, type Children } from './children.js';
import { LABEL_MANAGED_BY, MANAGED_BY, podSelector } from './desired.js';
import { checkSpec } from './images.js';
import { API_VERSION, KIND, type KindCustomHttp, type ResolvedSpec } from './kindcustomhttp.js';
import type { ListOptions, Page } from './kube-api.js';
import { pendingWork, planChildren } from './plan.js';
import { defaultOperatorSettings, inScope, reconcile, type OperatorSettings, type ReconcileContext } from './reconciler.js';
import { computeStatus, statusChanged, type Observation } from './status.js';
import { forEachBounded } from './concurrency.js';

export interface ResyncOptions {
  /** Only these namespaces (of those the operator serves); all it serves when absent. */
  namespaces?: string[];
  /** Objects per list page. */
  pageSize: number;
  /** Drifted CRs reconciled at once. */
  concurrency: number;
  /** Milliseconds left for starting reconciles; none starts once it reaches 0. */
  timeLeft: () => number;
  now?: () => Date;
}

export interface ResyncReport {
  /** CRs listed and compared with their children. */
  checked: number;
  /** CRs with a child missing or drifted, or a stale status. */
  drifted: number;
  /** Drifted CRs reconciled without an error. */
  repaired: number;
  /** Drifted CRs whose reconcile failed (transient errors; each is retried by the next run). */
  failed: Array<{ namespace: string; name: string; error: string }>;
  /** Drifted CRs left for the next run because time ran out. */
  notReached: number;
  /** Reconciled CRs that report a failure no retry fixes (Degraded: invalid spec, quota, conflict, ...). */
  degraded: number;
  /** API requests the run made. */
  requests: number;
}

/** What the resync keeps of one CR while it reads the children: no more than planning needs. */
interface CrEntry {
  cr: KindCustomHttp;
  /** The resolved spec with configMapData replaced by its digest, or undefined when invalid or refused. */
  spec?: ResolvedSpec;
  /** Why it needs a reconcile; empty while it looks converged. */
  drift: string[];
  /** Its children as listed, compacted. */
  observed: Children;
}

async function* pages<T>(list: (options: ListOptions) => Promise<Page<T>>, options: Omit<ListOptions, 'continueToken'>): AsyncGenerator<T[]> {
  let continueToken: string | undefined;
  do {
    const page = await list({ ...options, continueToken });
    yield page.items;
    continueToken = page.continueToken;
  } while (continueToken);
}

/** Degraded reasons the resync derives again itself (from the spec and settings, or the Deployment's status) rather than retrying them. */
const specReasons = new Set(['InvalidSpec', 'ImageNotAllowed', 'ProgressDeadlineExceeded']);

/** Pure: a Degraded CR whose cause may have gone away (a quota raised, a policy lifted) is tried again. */
function retriableDegradation(cr: KindCustomHttp): string | undefined {
  const degraded = cr.status?.conditions?.find((c) => c.type === 'Degraded' && c.status === 'True');
  return degraded && !specReasons.has(degraded.reason) ? `Degraded (${degraded.reason})` : undefined;
}

function indexCr(cr: KindCustomHttp, settings: OperatorSettings, now: Date): CrEntry {
  const entry: CrEntry = { cr, drift: [], observed: {} };
  if (cr.metadata.deletionTimestamp) return entry;
  const parsed = checkSpec(cr.spec, settings.images);
  if (!parsed.ok) {
    const expected = computeStatus(cr.status, { kind: 'failed', generation: cr.metadata.generation ?? 0, selector: podSelector(cr.metadata.name), failure: { reason: parsed.reason, message: parsed.message } }, now);
    if (statusChanged(cr.status, expected)) entry.drift.push('status');
    return entry;
  }
  // The desired ConfigMap's data is then a digest too, compared with the listed one's (compact).
  entry.spec = { ...parsed.spec, configMapData: dataDigest(parsed.spec.configMapData) };
  const degraded = retriableDegradation(cr);
  if (degraded) entry.drift.push(degraded);
  // The CR itself is not kept whole: its configMapData may be large.
  entry.cr = { ...cr, spec: undefined };
  return entry;
}

/** What planning reads of a listed child: no managed fields or annotations, a ConfigMap's files as a digest. */
function slim(kind: ChildKind, object: ChildObject): ChildObject {
  const { name, namespace, uid, resourceVersion, generation, labels, ownerReferences } = object.metadata ?? {};
  const compacted = infoOf(kind).compact?.(object) ?? object;
  return { ...compacted, metadata: { name, namespace, uid, resourceVersion, generation, labels, ownerReferences } };
}

/** Plans the CR from its listed children, with the reconcile's own planner, and checks its status. */
function planEntry(entry: CrEntry, now: Date): void {
  const { cr, spec, observed } = entry;
  entry.observed = {};
  if (!spec || cr.metadata.deletionTimestamp) return;
  entry.drift.push(...pendingWork(planChildren(cr, spec, observed)));
  const deployment = observed.Deployment;
  if (!deployment) return;
  const observation: Observation = { kind: 'converged', generation: cr.metadata.generation ?? 0, selector: podSelector(cr.metadata.name), desiredReplicas: spec.replicaCount, deployment };
  if (statusChanged(cr.status, computeStatus(cr.status, observation, now))) entry.drift.push('status');
}

/** The CR a listed child belongs to, by its controller reference and its name. */
function ownerKey(kind: ChildKind, object: ChildObject): string | undefined {
  const owner = object.metadata?.ownerReferences?.find((ref) => ref.controller && ref.kind === KIND && ref.apiVersion === API_VERSION);
  if (!owner || childKindInfo[kind].name(owner.name) !== object.metadata?.name) return undefined;
  return `${object.metadata?.namespace}/${owner.name}`;
}

/** Lists everything, then converges the CRs that need it, as long as time allows. */
export async function resync(context: ReconcileContext, options: ResyncOptions): Promise<ResyncReport> {
  const { api, log } = context;
  const now = options.now?.() ?? new Date();
  const requestsBefore = api.client.requestCount;
  const settings = context.settings ?? defaultOperatorSettings;
  const scoped = { ...options, namespaces: servedNamespaces(settings, options.namespaces) };
  const index = await indexCrs(context, scoped, now);
  await compareChildren(context, index, scoped, now);
  const drifted = [...index.values()].filter((entry) => entry.drift.length > 0);
  const report: ResyncReport = { checked: index.size, drifted: drifted.length, repaired: 0, failed: [], notReached: 0, degraded: 0, requests: 0 };
  // Children that drifted or are missing first; a status that only lags behind waits its turn.
  const statusOnly = (entry: CrEntry) => entry.drift.every((reason) => reason === 'status');
  await repair(context, [...shuffled(drifted.filter((e) => !statusOnly(e))), ...shuffled(drifted.filter(statusOnly))], options, report);
  report.requests = api.client.requestCount - requestsBefore;
  if (report.notReached > 0) log.warn('the resync ran out of time; the next run takes up the CRs it did not reach', { notReached: report.notReached });
  return report;
}

/**
 * The namespaces to list: those asked for that the operator serves, or all it serves (undefined:
 * every namespace, with one cluster-wide list per kind). In the namespaced mode the functions may
 * list nowhere else.
 */
function servedNamespaces(settings: OperatorSettings, asked: string[] | undefined): string[] | undefined {
  if (!asked) return settings.namespaces.length > 0 ? settings.namespaces : undefined;
  return asked.filter((namespace) => inScope(settings, namespace));
}

/** Every CR in scope, by `namespace/name`, with what comparing its children needs. */
async function indexCrs({ api, settings = defaultOperatorSettings }: ReconcileContext, options: ResyncOptions, now: Date): Promise<Map<string, CrEntry>> {
  const index = new Map<string, CrEntry>();
  for (const namespace of options.namespaces ?? [undefined]) {
    for await (const items of pages((o) => api.listKindCustomHttps(o), { namespace, limit: options.pageSize })) {
      for (const cr of items) index.set(`${cr.metadata.namespace}/${cr.metadata.name}`, indexCr(cr, settings, now));
    }
  }
  return index;
}

/** Gathers every child the operator labels under its CR, then plans each CR. */
async function compareChildren({ api }: ReconcileContext, index: Map<string, CrEntry>, options: ResyncOptions, now: Date): Promise<void> {
  const labelSelector = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
  for (const kind of childKinds) {
    for (const namespace of options.namespaces ?? [undefined]) {
      for await (const items of pages((o) => api.listChildren(kind, o), { namespace, labelSelector, limit: options.pageSize })) {
        for (const object of items) {
          const entry = index.get(ownerKey(kind, object) ?? '');
          if (entry?.spec) (entry.observed as Record<ChildKind, ChildObject>)[kind] = slim(kind, object);
        }
      }
    }
  }
  for (const entry of index.values()) planEntry(entry, now);
}

async function repair(context: ReconcileContext, drifted: CrEntry[], options: ResyncOptions, report: ResyncReport): Promise<void> {
  await forEachBounded(drifted, options.concurrency, async (entry) => {
    const target = { namespace: entry.cr.metadata.namespace, name: entry.cr.metadata.name };
    if (options.timeLeft() <= 0) {
      report.notReached++;
      return;
    }
    context.log.info('drifted', { ...target, drift: entry.drift.slice(0, 20) });
    try {
      const result = await reconcile(context, target);
      if (result.outcome === 'degraded') report.degraded++;
      else report.repaired++;
    } catch (error) {
      context.log.warn('could not converge a drifted CR; the next run tries again', { ...target, error });
      report.failed.push({ ...target, error: error instanceof Error ? error.message : String(error) });
    }
  });
}

/** A fair order: a CR that keeps failing slowly cannot starve the same others run after run. */
function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
