// Resync function, on a schedule: compares every KindCustomHttp with its children from lists and
// converges those that drifted, then reports what it found as metrics. CRs it could not converge
// or reach are retried by the next run; the alarms watch those counts over consecutive runs, so a
// failing CR never hides the next one behind an alarm that is always on. Only a run that could not
// list at all fails.
import type { Context } from 'aws-lambda';
import { readFunctionEnvironment } from '../core/environment.js';
import { resyncEventSchema, SCHEDULER_SOURCE } from '../core/event-contract.js';
import { invocationLogger, metrics, MetricUnit } from '../core/observability.js';
import { resync, type ResyncReport } from '../core/resync.js';
import { lazyKubeApi } from '../core/runtime.js';

// Read at cold start: a bad setting fails the function's start, naming the setting.
const environment = readFunctionEnvironment();
const kubeApi = lazyKubeApi(environment);
/** Time kept back from the Lambda timeout to finish the reconciles under way and report. */
const SAFETY_MARGIN_MS = 30_000;
/** Without a Lambda context (tests, scripts), the time a run may spend converging. */
const DEFAULT_BUDGET_MS = 270_000;

export async function handler(event: unknown, context?: Context): Promise<ResyncReport> {
  metrics.captureColdStartMetric();
  const started = Date.now();
  const parsed = resyncEventSchema.safeParse(event);
  // Any trigger may start a resync; only the contract's own request can narrow it to namespaces.
  const namespaces = parsed.success && parsed.data.source === SCHEDULER_SOURCE ? parsed.data.detail.namespaces : undefined;
  const log = invocationLogger(context, parsed.success ? { eventId: parsed.data.id } : {});
  try {
    const api = await kubeApi();
    const report = await resync(
      { api, log, settings: environment.operator },
      {
        namespaces,
        pageSize: environment.RESYNC_PAGE_SIZE,
        concurrency: environment.RESYNC_CONCURRENCY,
        timeLeft: () => (context ? context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS : DEFAULT_BUDGET_MS - (Date.now() - started)),
      },
    );
    log.info('resync finished', { report: { ...report, failed: report.failed.length }, durationMs: Date.now() - started });
    metrics.addMetric('ResyncChecked', MetricUnit.Count, report.checked);
    metrics.addMetric('ResyncDrifted', MetricUnit.Count, report.drifted);
    metrics.addMetric('ResyncRepaired', MetricUnit.Count, report.repaired);
    metrics.addMetric('ResyncFailed', MetricUnit.Count, report.failed.length);
    metrics.addMetric('ResyncNotReached', MetricUnit.Count, report.notReached);
    metrics.addMetric('ResyncDegraded', MetricUnit.Count, report.degraded);
    return report;
  } catch (error) {
    log.error('resync failed', error as Error);
    throw error;
  } finally {
    metrics.publishStoredMetrics();
  }
}
