// The reconcile event path's numbers, read from serverless.yml so that the local emulation runs
// with what is deployed: custom.reconcileQueue and the stage's reconcileConcurrency.
import { loadYaml } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { repoRoot } from '../cluster/layout.js';
import type { EventSourceSettings } from './event-source.js';
import type { QueueSettings } from './queue.js';

const count = z.number().int().positive();

const serverlessSchema = z.object({
  params: z.record(z.string(), z.object({ reconcileConcurrency: count.optional() }).passthrough().nullish()),
  custom: z.object({
    reconcileQueue: z.object({
      batchSize: count,
      maximumBatchingWindow: z.number().int().nonnegative(),
      visibilityTimeout: count,
      maxReceiveCount: count,
    }),
  }),
});

export interface ReconcilePathSettings {
  queue: QueueSettings;
  eventSource: EventSourceSettings;
}

/** The settings for `stage`; throws naming what serverless.yml lacks. */
export function readReconcilePathSettings(stage: string, path = join(repoRoot, 'serverless.yml')): ReconcilePathSettings {
  const parsed = serverlessSchema.safeParse(loadYaml(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path} lacks the reconcile path's settings: ${z.prettifyError(parsed.error)}`);
  const { params, custom } = parsed.data;
  const concurrency = params[stage]?.reconcileConcurrency ?? params.default?.reconcileConcurrency;
  if (concurrency === undefined) throw new Error(`${path}: no params.${stage}.reconcileConcurrency nor params.default.reconcileConcurrency`);
  const queue = custom.reconcileQueue;
  return {
    queue: { visibilityTimeoutMs: queue.visibilityTimeout * 1000, maxReceiveCount: queue.maxReceiveCount },
    eventSource: { batchSize: queue.batchSize, maximumBatchingWindowMs: queue.maximumBatchingWindow * 1000, maximumConcurrency: concurrency },
  };
}
