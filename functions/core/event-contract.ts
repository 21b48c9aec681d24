// The event contract between the forwarder, the bus and the functions: one module, imported by
// every producer and consumer; serverless.yml's rules and test/events/ are checked against it.
//
// Events are thin: they name a KindCustomHttp and say what moved, never its spec or data (bus
// entries are limited to 256 KB, and configMapData may be sensitive). Consumers always re-read the
// CR, because delivery is at least once and unordered.
import { z } from 'zod';
import { childKinds } from './children.js';
import { namespaceName, objectName } from './validation.js';

/** `source` of every event the forwarder puts on the bus. */
export const FORWARDER_SOURCE = 'stimulated-peering.forwarder';
/** `source` of the scheduled resync's input. */
export const SCHEDULER_SOURCE = 'stimulated-peering.scheduler';

export const DetailType = {
  /** A KindCustomHttp was listed, added, modified or deleted. */
  ResourceChanged: 'KindCustomHttp Changed',
  /** An object a KindCustomHttp owns (Deployment, Service, ConfigMap) changed or was deleted. */
  ChildChanged: 'KindCustomHttp Child Changed',
  /** The schedule asks for a full resync. */
  ResyncRequested: 'KindCustomHttp Resync Requested',
} as const;

export const changeTypes = ['Synced', 'Added', 'Modified', 'Deleted'] as const;
export { childKinds };

// Every string is bounded, far below EventBridge's 256 KB per entry: uids are 36 characters and
// resourceVersions opaque but short; anything longer is not an event the forwarder sends.
const uid = z.string().min(1).max(128);
const resourceVersion = z.string().min(1).max(128);

/** What changed, on which object. `key` is stable per object version, so duplicates can be recognised. */
export const resourceChangedDetailSchema = z.object({
  key: z.string().min(1).max(512),
  namespace: namespaceName,
  name: objectName,
  uid,
  resourceVersion,
  generation: z.number().int().nonnegative().optional(),
  change: z.enum(changeTypes),
});
export type ResourceChangedDetail = z.infer<typeof resourceChangedDetailSchema>;

export const childChangedDetailSchema = resourceChangedDetailSchema
  .omit({ generation: true })
  .extend({
    /** The owning CR, from the child's controller ownerReference. */
    owner: z.object({ name: objectName, uid }),
    kind: z.enum(childKinds),
  });
export type ChildChangedDetail = z.infer<typeof childChangedDetailSchema>;

export const resyncRequestedDetailSchema = z.object({
  /** Only these namespaces; all when absent. */
  namespaces: z.array(namespaceName).max(1000).optional(),
});
export type ResyncRequestedDetail = z.infer<typeof resyncRequestedDetailSchema>;

const envelope = {
  version: z.string().max(16).optional(),
  id: z.string().min(1).max(256),
  account: z.string().max(32).optional(),
  time: z.string().max(64).optional(),
  region: z.string().max(32).optional(),
  resources: z.array(z.string().max(2048)).max(10).optional(),
};

/** An EventBridge event that asks for one KindCustomHttp to be reconciled. */
export const reconcileEventSchema = z.discriminatedUnion('detail-type', [
  z.object({ ...envelope, source: z.literal(FORWARDER_SOURCE), 'detail-type': z.literal(DetailType.ResourceChanged), detail: resourceChangedDetailSchema }),
  z.object({ ...envelope, source: z.literal(FORWARDER_SOURCE), 'detail-type': z.literal(DetailType.ChildChanged), detail: childChangedDetailSchema }),
]);
export type ReconcileEvent = z.infer<typeof reconcileEventSchema>;

/**
 * What the reconcile function receives: an SQS batch from the queue the rule feeds, each record's
 * body one EventBridge event (the rule's target delivers the whole event). A bare event (invoke
 * local, a replay straight to the function) is taken too.
 */
export const sqsRecordSchema = z.object({
  messageId: z.string().min(1),
  body: z.string(),
  attributes: z.object({ ApproximateReceiveCount: z.string().optional(), SentTimestamp: z.string().optional() }).partial().optional(),
});
export type SqsRecord = z.infer<typeof sqsRecordSchema>;
export const sqsBatchSchema = z.object({ Records: z.array(sqsRecordSchema) });
export type SqsBatch = z.infer<typeof sqsBatchSchema>;

/** The answer to an SQS batch: the records to deliver again (ReportBatchItemFailures). */
export interface BatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

/** The scheduled resync's input: the contract's own request, or a plain EventBridge "Scheduled Event". */
export const resyncEventSchema = z.union([
  z.object({ ...envelope, source: z.literal(SCHEDULER_SOURCE), 'detail-type': z.literal(DetailType.ResyncRequested), detail: resyncRequestedDetailSchema }),
  z.object({ ...envelope, source: z.literal('aws.events'), 'detail-type': z.literal('Scheduled Event'), detail: z.object({}).passthrough() }),
]);
export type ResyncEvent = z.infer<typeof resyncEventSchema>;

/** The EventBridge rule pattern that routes reconcile events to the reconcile function. */
export const reconcileRulePattern = {
  source: [FORWARDER_SOURCE],
  'detail-type': [DetailType.ResourceChanged, DetailType.ChildChanged],
} as const;

/** The CR an event asks to reconcile. */
export function reconcileTarget(event: ReconcileEvent): { namespace: string; name: string } {
  const detail = event.detail;
  return 'owner' in detail ? { namespace: detail.namespace, name: detail.owner.name } : { namespace: detail.namespace, name: detail.name };
}

/** The PutEvents entry fields for a detail; the forwarder adds the bus name. */
export function resourceChangedEntry(detail: ResourceChangedDetail) {
  return { Source: FORWARDER_SOURCE, DetailType: DetailType.ResourceChanged, Detail: JSON.stringify(resourceChangedDetailSchema.parse(detail)) };
}

export function childChangedEntry(detail: ChildChangedDetail) {
  return { Source: FORWARDER_SOURCE, DetailType: DetailType.ChildChanged, Detail: JSON.stringify(childChangedDetailSchema.parse(detail)) };
}

/** A stable key for one version of one object and what happened to it. */
export function eventKey(uid: string, resourceVersion: string, change: (typeof changeTypes)[number]): string {
  return `${uid}/${resourceVersion}/${change}`;
}
