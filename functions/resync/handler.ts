// Resync function: triggered on a schedule. Converges every KindCustomHttp and reports how many
// had drifted; fails (so the failure is retried and alarmed on) when any could not be converged.
import type { Context } from 'aws-lambda';
import { resyncEventSchema, SCHEDULER_SOURCE } from '../core/event-contract.js';
import { invocationLogger, metrics, MetricUnit } from '../core/observability.js';
import { resync, ResyncIncompleteError, type ResyncReport } from '../core/resync.js';
import { functionRuntime } from '../core/runtime.js';

/** Time kept back from the Lambda timeout to finish the reconciles under way and report. */
const SAFETY_MARGIN_MS = 30_000;

export async function handler(event: unknown, context?: Context): Promise<ResyncReport> {
  metrics.captureColdStartMetric();
  let log = invocationLogger(context);
  try {
    const parsed = resyncEventSchema.safeParse(event);
    // Any trigger may start a resync; only the contract's own request can narrow it to namespaces.
    const namespaces = parsed.success && parsed.data.source === SCHEDULER_SOURCE ? parsed.data.detail.namespaces : undefined;
    if (parsed.success) log = invocationLogger(context, { eventId: parsed.data.id });
    const { api, env } = await functionRuntime();
    const report = await resync(
      { api, log },
      {
        namespaces,
        concurrency: env.RESYNC_CONCURRENCY,
        pageSize: env.RESYNC_PAGE_SIZE,
        hasTimeLeft: context ? () => context.getRemainingTimeInMillis() > SAFETY_MARGIN_MS : undefined,
      },
    );
    log.info('resync finished', { report: { ...report, failed: report.failed.length } });
    metrics.addMetric('ResyncFound', MetricUnit.Count, report.found);
    metrics.addMetric('ResyncDrifted', MetricUnit.Count, report.drifted);
    metrics.addMetric('ResyncRepaired', MetricUnit.Count, report.repaired);
    metrics.addMetric('ResyncFailed', MetricUnit.Count, report.failed.length);
    if (!report.complete) log.warn('resync ran out of time; the next run starts over');
    if (report.failed.length > 0) throw new ResyncIncompleteError(report);
    return report;
  } catch (error) {
    log.error('resync failed', error as Error);
    throw error;
  } finally {
    metrics.publishStoredMetrics();
  }
}
