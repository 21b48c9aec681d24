// Reconcile function, fed by the SQS queue behind the bus rule. Each CR a batch names is
// reconciled once, however many of its events the batch holds; a transient failure is retried
// here while the invocation has time, then only that CR's records are handed back to the queue
// (ReportBatchItemFailures), which delivers them again later and dead-letters them after an hour.
// A bare EventBridge event (`osls invoke local`, a replay aimed at the function) is taken too.
//
// A write left without an answer (the invocation's end came first) may still be applied by the
// API server. Its retry never redoes it blindly: a retry is the whole reconcile again, which reads
// the CR and its children first and plans from what is there; the writes are idempotent besides
// (server-side apply of the children; the status applied with the CR's uid, so it lands on that CR
// or fails; Events under a name derived from what they report, a second one answered 409 and left;
// deletions preconditioned on the uid read).
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { retrying } from '../core/backoff.js';
import { childKinds } from '../core/children.js';
import { Semaphore } from '../core/concurrency.js';
import { readFunctionEnvironment } from '../core/environment.js';
import { reconcileEventSchema, reconcileTarget, sqsBatchSchema, type BatchResponse } from '../core/event-contract.js';
import { isTransient } from '../core/failures.js';
import type { KubeApi } from '../core/kube-api.js';
import { withDeadline } from '../core/kube-client.js';
import { invocationLogger, metrics, MetricUnit } from '../core/observability.js';
import { reconcile, type ReconcileResult, type ReconcileTarget } from '../core/reconciler.js';
import { lazyKubeApi } from '../core/runtime.js';
import { describeIssues } from '../core/validation.js';

// Read at cold start: a bad setting fails the function's start, naming the setting.
const environment = readFunctionEnvironment();
const kubeApi = lazyKubeApi(environment);
const processor = new BatchProcessor(EventType.SQS);
/** Kept back from the invocation's time to hand failed records back before Lambda stops it. */
const RETRY_MARGIN_MS = 5_000;
/** Without a Lambda context (tests, scripts), transient failures are retried for this long. */
const DEFAULT_RETRY_BUDGET_MS = 10_000;
const retryBackoff = { baseMs: 200, maxMs: 4_000 };
/** How many of this instance's latest reconciles say how long one takes now. */
const RECENT_RECONCILES = 50;

/**
 * The longest of the latest reconciles (from their start, after their wait for a slot). A CR whose
 * turn comes with less time left than that is not started: at a busy API server its writes would
 * wait past the invocation's end and be abandoned, work the API server then cancels and a retry
 * does again. It goes back to the queue unsent instead. At a quick API server a reconcile takes
 * tens of milliseconds, and every CR starts.
 */
class RecentDurations {
  private readonly durations: number[] = [];

  add(ms: number): void {
    this.durations.push(ms);
    if (this.durations.length > RECENT_RECONCILES) this.durations.shift();
  }

  get longest(): number {
    return Math.max(0, ...this.durations);
  }
}
const recentReconciles = new RecentDurations();

/** A CR handed back to the queue before any of its requests was sent. */
class NotStartedError extends Error {
  constructor(timeLeftMs: number, neededMs: number) {
    super(`not started: ${timeLeftMs} ms of the invocation left, and a reconcile took up to ${neededMs} ms lately`);
    this.name = 'NotStartedError';
  }
}

/** The invocation's clock: the time left for requests, and whether a CR may still start. */
interface Clock {
  timeLeft: () => number;
  /** Throws NotStartedError when too little time is left to start a CR. */
  checkStart: () => void;
}

/**
 * The CRs this instance reconciles at once: as many as the writes the API server takes now leave
 * room for, a CR writing up to one of each child at once. When the API server slows down, the
 * adaptive write limit shrinks and the batch's other CRs wait here, before their reads, rather than
 * queueing their writes at the API server.
 */
let reconciling: Semaphore | undefined;
function reconcileSlots(api: KubeApi): Semaphore {
  const limit = api.client.writeLimit;
  reconciling ??= new Semaphore(() => (limit ? Math.max(1, Math.ceil(limit.limit / childKinds.length)) : Infinity));
  return reconciling;
}

export type ReconcileHandlerResult = ReconcileResult | { outcome: 'malformed-event'; message: string };

/** Parses one event and reconciles the CR it names; a malformed event is logged and dropped. */
async function reconcileEvent(event: unknown, context: Context | undefined, once: (target: ReconcileTarget, keys: Record<string, unknown>) => Promise<ReconcileResult>): Promise<ReconcileHandlerResult> {
  const parsed = reconcileEventSchema.safeParse(event);
  if (!parsed.success) {
    // Retrying a malformed event cannot help.
    const message = describeIssues(parsed.error.issues);
    invocationLogger(context).error('malformed event dropped', { problems: message, event });
    metrics.addMetric('MalformedEvents', MetricUnit.Count, 1);
    return { outcome: 'malformed-event', message };
  }
  return once(reconcileTarget(parsed.data), { eventId: parsed.data.id, eventKey: parsed.data.detail.key });
}

/** One reconcile per CR per invocation; the events of a CR that arrive together share it. */
function reconcilerFor(context: Context | undefined): (target: ReconcileTarget, keys: Record<string, unknown>) => Promise<ReconcileResult> {
  // Every request of the invocation ends by then: a write waits for its answer until then, no longer.
  const deadline = Date.now() + (context ? context.getRemainingTimeInMillis() - RETRY_MARGIN_MS : DEFAULT_RETRY_BUDGET_MS);
  const timeLeft = () => deadline - Date.now();
  const clock: Clock = {
    timeLeft,
    checkStart: () => {
      const needed = recentReconciles.longest;
      if (timeLeft() < needed) throw new NotStartedError(timeLeft(), needed);
    },
  };
  const running = new Map<string, Promise<ReconcileResult>>();
  return (target, keys) => {
    const key = `${target.namespace}/${target.name}`;
    let result = running.get(key);
    if (!result) {
      result = withDeadline(deadline, () => reconcileLogged(target, context, keys, clock));
      running.set(key, result);
    }
    return result;
  };
}

async function reconcileLogged(target: ReconcileTarget, context: Context | undefined, keys: Record<string, unknown>, clock: Clock): Promise<ReconcileResult> {
  const log = invocationLogger(context, { ...keys, namespace: target.namespace, name: target.name });
  try {
    const api = await kubeApi();
    const slots = reconcileSlots(api);
    const started = async () => {
      clock.checkStart();
      const startedAt = Date.now();
      const result = await reconcile({ api, log, settings: environment.operator }, target);
      recentReconciles.add(Date.now() - startedAt);
      return result;
    };
    const result = await retrying(() => slots.run(started), {
      backoff: retryBackoff,
      retryable: (error) => !(error instanceof NotStartedError) && isTransient(error),
      timeLeft: clock.timeLeft,
      onRetry: (error, attempt, delayMs) => log.warn('reconcile failed; retrying', { error, attempt, delayMs }),
    });
    log.info('reconciled', { outcome: result.outcome, reason: result.reason, changes: result.changes.length, statusUpdated: result.statusUpdated, ready: result.ready, writeLimit: api.client.writeLimit?.limit });
    metrics.addMetric('Reconciles', MetricUnit.Count, 1);
    metrics.addMetric('ChildrenChanged', MetricUnit.Count, result.changes.length);
    if (result.outcome === 'degraded') metrics.addMetric('DegradedResources', MetricUnit.Count, 1);
    return result;
  } catch (error) {
    reportFailure(log, error);
    throw error;
  }
}

function reportFailure(log: ReturnType<typeof invocationLogger>, error: unknown): void {
  if (error instanceof NotStartedError) {
    log.warn('reconcile not started; the event goes back to the queue', { error });
    metrics.addMetric('ReconcilesNotStarted', MetricUnit.Count, 1);
    return;
  }
  log.error('reconcile failed; the event goes back to the queue', error as Error);
  metrics.addMetric('ReconcileErrors', MetricUnit.Count, 1);
}

export async function handler(event: unknown, context?: Context): Promise<BatchResponse | ReconcileHandlerResult> {
  metrics.captureColdStartMetric();
  const once = reconcilerFor(context);
  try {
    if (sqsBatchSchema.safeParse(event).success) {
      const batch = event as SQSEvent;
      metrics.addMetric('BatchSize', MetricUnit.Count, batch.Records.length);
      const recordHandler = (record: SQSRecord) => reconcileEvent(parseBody(record), context, once);
      // A batch whose every record failed is still an answer, not an error: the queue retries exactly those.
      return await processPartialResponse(batch, recordHandler, processor, { context, throwOnFullBatchFailure: false });
    }
    return await reconcileEvent(event, context, once);
  } finally {
    metrics.publishStoredMetrics();
  }
}

function parseBody(record: SQSRecord): unknown {
  try {
    return JSON.parse(record.body);
  } catch {
    return { body: record.body };
  }
}
