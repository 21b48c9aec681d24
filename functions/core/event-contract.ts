// The event contract between the forwarder, the bus and the functions: one module, imported by
// every producer and consumer; serverless.yml's rules and test/events/ are checked against it.
//
// Events are thin: they name a KindCustomHttp and say what moved, never its spec or data (bus
// entries are limited to 256 KB, and configMapData may be sensitive). Consumers always re-read the
// CR, because delivery is at least once and unordered.
import * as z from 'zod/mini';
import { childKinds } from './children.js';
import { boundedString, namespaceName, objectName } from './validation.js';

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
const uid = boundedString(1, 128);
const resourceVersion = boundedString(1, 128);

/** What changed, on which object. `key` is stable per object version, so duplicates can be recognised. */
export const resourceChangedDetailSchema = z.object({
  key: boundedString(1, 512),
  namespace: namespaceName,
  name: objectName,
  uid,
  resourceVersion,
  generation: z.optional(z.int().check(z.nonnegative())),
  change: z.enum(changeTypes),
});
export type ResourceChangedDetail = z.infer<typeof resourceChangedDetailSchema>;

export const childChangedDetailSchema = z.extend(z.omit(resourceChangedDetailSchema, { generation: true }), {
  /** The owning CR, from the child's controller ownerReference. */
  owner: z.object({ name: objectName, uid }),
  kind: z.enum(childKinds),
});
export type ChildChangedDetail = z.infer<typeof childChangedDetailSchema>;

export const resyncRequestedDetailSchema = z.object({
  /** Only these namespaces; all when absent. */
  namespaces: z.optional(z.array(namespaceName).check(z.maxLength(1000))),
});
export type ResyncRequestedDetail = z.infer<typeof resyncRequestedDetailSchema>;

const envelope = {
  version: z.optional(boundedString(0, 16)),
  id: boundedString(1, 256),
  account: z.optional(boundedString(0, 32)),
  time: z.optional(boundedString(0, 64)),
  region: z.optional(boundedString(0, 32)),
  resources: z.optional(z.array(boundedString(0, 2048)).check(z.maxLength(10))),
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
  messageId: boundedString(1, 256),
  body: z.string(),
  attributes: z.optional(z.object({ ApproximateReceiveCount: z.optional(z.string()), SentTimestamp: z.optional(z.string()) })),
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
  z.object({ ...envelope, source: z.literal('aws.events'), 'detail-type': z.literal('Scheduled Event'), detail: z.looseObject({}) }),
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
