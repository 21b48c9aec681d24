// The Lambda handlers as Lambda loads them, and the events they receive: recorded EventBridge
// events, and SQS batches as the queue behind the bus rule delivers them.
import { readFileSync } from 'node:fs';
import { vi } from 'vitest';
import { reconcilerKubeconfigPath } from './kube.js';

export type Handler = (event: unknown, context?: unknown) => Promise<Record<string, unknown>>;

/** The handler modules, loaded anew: their environment is read at import, against `kubeconfig` (by default the functions' own identity). */
export async function loadHandlers(kubeconfig = reconcilerKubeconfigPath()): Promise<{ reconcile: Handler; resync: Handler }> {
  vi.resetModules();
  process.env.KUBECONFIG = kubeconfig;
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  return {
    reconcile: (await import('../../functions/reconcile/handler.js')).handler as unknown as Handler,
    resync: (await import('../../functions/resync/handler.js')).handler as unknown as Handler,
  };
}

export function readEvent(file: string): Record<string, any> {
  return JSON.parse(readFileSync(new URL(`../events/${file}`, import.meta.url), 'utf8'));
}

/** A recorded event, aimed at a CR of the test's. */
export function recordedEvent(file: string, namespace: string, name: string): Record<string, any> {
  const event = readEvent(file);
  event.detail.namespace = namespace;
  if ('owner' in event.detail) event.detail.owner.name = name;
  else event.detail.name = name;
  return event;
}

/** An SQS batch as the reconcile queue delivers it: each body one EventBridge event. */
export function sqsBatch(events: unknown[]) {
  return {
    Records: events.map((event, index) => ({
      messageId: `message-${index}`,
      receiptHandle: `handle-${index}`,
      body: JSON.stringify(event),
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()) },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:eu-west-1:111122223333:stimulated-peering-test-reconcile',
      awsRegion: 'eu-west-1',
    })),
  };
}

/** A Lambda context with this much time left. */
export function lambdaContext(remainingMs: number) {
  const deadline = Date.now() + remainingMs;
  return { functionName: 'reconcile', getRemainingTimeInMillis: () => deadline - Date.now() };
}
