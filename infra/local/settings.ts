// The local stack's numbers, read from serverless.yml so that it runs with what is deployed:
// custom.reconcileQueue, the stage's reconcileConcurrency and the functions' timeouts.
import { loadYaml } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { repoRoot } from './cluster/layout.js';
import type { EventSourceSettings } from './bus/event-source.js';
import type { QueueSettings } from './bus/queue.js';

const count = z.number().int().positive();

const serverlessSchema = z.object({
  params: z.record(z.string(), z.object({ reconcileConcurrency: count.optional() }).passthrough().nullish()),
  functions: z.record(z.string(), z.object({ timeout: count })),
  custom: z.object({
    reconcileQueue: z.object({
      batchSize: count,
      maximumBatchingWindow: z.number().int().nonnegative(),
      visibilityTimeout: count,
      maxReceiveCount: count,
    }),
  }),
});

export interface LocalStackSettings {
  queue: QueueSettings;
  eventSource: EventSourceSettings;
  /** Each function's timeout: the longest an invocation may take. */
  functionTimeoutMs: Record<string, number>;
}

/** The settings for `stage`; throws naming what serverless.yml lacks. */
export function readLocalStackSettings(stage: string, path = join(repoRoot, 'serverless.yml')): LocalStackSettings {
  const parsed = serverlessSchema.safeParse(loadYaml(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path} lacks the reconcile path's settings: ${z.prettifyError(parsed.error)}`);
  const { params, custom, functions } = parsed.data;
  const concurrency = params[stage]?.reconcileConcurrency ?? params.default?.reconcileConcurrency;
  if (concurrency === undefined) throw new Error(`${path}: no params.${stage}.reconcileConcurrency nor params.default.reconcileConcurrency`);
  const queue = custom.reconcileQueue;
  return {
    queue: { visibilityTimeoutMs: queue.visibilityTimeout * 1000, maxReceiveCount: queue.maxReceiveCount },
    eventSource: { batchSize: queue.batchSize, maximumBatchingWindowMs: queue.maximumBatchingWindow * 1000, maximumConcurrency: concurrency },
    functionTimeoutMs: Object.fromEntries(Object.entries(functions).map(([name, { timeout }]) => [name, timeout * 1000])),
  };
}
