// Reconcile function: triggered by the bus rule for forwarder events. Parses the event, converges
// the CR it names, and lets transient API errors escape so Lambda retries the event.
import type { Context } from 'aws-lambda';
import { Semaphore } from '../core/concurrency.js';
import { reconcileEventSchema, reconcileTarget } from '../core/event-contract.js';
import { invocationLogger, metrics, MetricUnit } from '../core/observability.js';
import { reconcile, type ReconcileResult } from '../core/reconciler.js';
import { functionRuntime } from '../core/runtime.js';

let invocations: Semaphore | undefined;

export type ReconcileHandlerResult = ReconcileResult | { outcome: 'malformed-event'; message: string };

export async function handler(event: unknown, context?: Context): Promise<ReconcileHandlerResult> {
  metrics.captureColdStartMetric();
  let log = invocationLogger(context);
  try {
    const parsed = reconcileEventSchema.safeParse(event);
    if (!parsed.success) {
      // Retrying a malformed event cannot help: log it once and succeed.
      const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
      log.error('malformed event dropped', { problems, event });
      metrics.addMetric('MalformedEvents', MetricUnit.Count, 1);
      return { outcome: 'malformed-event', message: problems };
    }
    const target = reconcileTarget(parsed.data);
    log = invocationLogger(context, { eventId: parsed.data.id, eventKey: parsed.data.detail.key, namespace: target.namespace, name: target.name });
    const { api, env } = await functionRuntime();
    invocations ??= new Semaphore(env.MAX_CONCURRENT_RECONCILES);
    const result = await invocations.run(() => reconcile({ api, log }, target));
    log.info('reconciled', { outcome: result.outcome, changes: result.changes.length, statusUpdated: result.statusUpdated, ready: result.ready });
    metrics.addMetric('Reconciles', MetricUnit.Count, 1);
    metrics.addMetric('ChildrenChanged', MetricUnit.Count, result.changes.length);
    if (result.outcome === 'invalid' || result.outcome === 'rejected') metrics.addMetric('InvalidResources', MetricUnit.Count, 1);
    return result;
  } catch (error) {
    log.error('reconcile failed; the event will be retried', error as Error);
    metrics.addMetric('ReconcileErrors', MetricUnit.Count, 1);
    throw error;
  } finally {
    metrics.publishStoredMetrics();
  }
}
