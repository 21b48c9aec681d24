// The periodic full resync: every KindCustomHttp, page by page, through the same reconcile as the
// event-driven path, a bounded number at a time.
import { forEachBounded } from './concurrency.js';
import type { KubeApi } from './kube-api.js';
import { reconcile, type Log, type ReconcileResult } from './reconciler.js';

export interface ResyncOptions {
  namespaces?: string[];
  concurrency: number;
  pageSize: number;
  /** Stop starting new reconciles when this returns false (the Lambda is about to time out). */
  hasTimeLeft?: () => boolean;
}

export interface ResyncReport {
  found: number;
  converged: number;
  /** CRs that had at least one child created, updated or recreated. */
  drifted: number;
  /** Children created, updated or recreated. */
  repaired: number;
  invalid: number;
  failed: Array<{ namespace: string; name: string; error: string }>;
  /** False when time ran out before every CR was reached. */
  complete: boolean;
}

export class ResyncIncompleteError extends Error {
  constructor(readonly report: ResyncReport) {
    super(`resync could not converge ${report.failed.length} of ${report.found} KindCustomHttps: ${report.failed.map((f) => `${f.namespace}/${f.name}: ${f.error}`).slice(0, 5).join('; ')}`);
    this.name = 'ResyncIncompleteError';
  }
}

function tally(report: ResyncReport, result: ReconcileResult): void {
  if (result.outcome === 'converged') report.converged++;
  if (result.outcome === 'invalid' || result.outcome === 'rejected') report.invalid++;
  if (result.changes.length > 0) report.drifted++;
  report.repaired += result.changes.length;
}

/** Converges every KindCustomHttp; a CR that fails is reported and the rest carry on. */
export async function resync(context: { api: KubeApi; log: Log }, options: ResyncOptions): Promise<ResyncReport> {
  const report: ResyncReport = { found: 0, converged: 0, drifted: 0, repaired: 0, invalid: 0, failed: [], complete: true };
  const hasTimeLeft = options.hasTimeLeft ?? (() => true);
  for (const namespace of options.namespaces ?? [undefined]) {
    let continueToken: string | undefined;
    do {
      const page = await context.api.listKindCustomHttps({ namespace, limit: options.pageSize, continueToken });
      report.found += page.items.length;
      await forEachBounded(page.items, options.concurrency, async (cr) => {
        if (!hasTimeLeft()) {
          report.complete = false;
          return;
        }
        const target = { namespace: cr.metadata.namespace, name: cr.metadata.name };
        try {
          tally(report, await reconcile(context, target));
        } catch (error) {
          report.failed.push({ ...target, error: error instanceof Error ? error.message : String(error) });
        }
      });
      continueToken = page.continueToken;
    } while (continueToken && report.complete);
  }
  return report;
}
