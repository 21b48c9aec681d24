// The event contract between the forwarder, the bus and the functions: one module, imported by
// every producer and consumer; serverless.yml's rules and test/events/ are checked against it.
//
// Events are thin: they name a KindCustomHttp and say what moved, never its spec or data (bus
// entries are limited to 256 KB, and configMapData may be sensitive). Consumers always re-read the
// CR, because delivery is at least once and unordered.
import { z } from 'zod';

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
export const childKinds = ['Deployment', 'Service', 'ConfigMap'] as const;

const kubernetesName = z.string().min(1).max(253).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'is not a Kubernetes object name');

/** What changed, on which object. `key` is stable per object version, so duplicates can be recognised. */
export const resourceChangedDetailSchema = z.object({
  key: z.string().min(1),
  namespace: kubernetesName,
  name: kubernetesName,
  uid: z.string().min(1),
  resourceVersion: z.string().min(1),
  generation: z.number().int().nonnegative().optional(),
  change: z.enum(changeTypes),
});
export type ResourceChangedDetail = z.infer<typeof resourceChangedDetailSchema>;

export const childChangedDetailSchema = resourceChangedDetailSchema
  .omit({ generation: true })
  .extend({
    /** The owning CR, from the child's controller ownerReference. */
    owner: z.object({ name: kubernetesName, uid: z.string().min(1) }),
    kind: z.enum(childKinds),
  });
export type ChildChangedDetail = z.infer<typeof childChangedDetailSchema>;

export const resyncRequestedDetailSchema = z.object({
  /** Only these namespaces; all when absent. */
  namespaces: z.array(kubernetesName).optional(),
});
export type ResyncRequestedDetail = z.infer<typeof resyncRequestedDetailSchema>;

const envelope = {
  version: z.string().optional(),
  id: z.string().min(1),
  account: z.string().optional(),
  time: z.string().optional(),
  region: z.string().optional(),
  resources: z.array(z.string()).optional(),
};

/** An EventBridge event that asks for one KindCustomHttp to be reconciled. */
export const reconcileEventSchema = z.discriminatedUnion('detail-type', [
  z.object({ ...envelope, source: z.literal(FORWARDER_SOURCE), 'detail-type': z.literal(DetailType.ResourceChanged), detail: resourceChangedDetailSchema }),
  z.object({ ...envelope, source: z.literal(FORWARDER_SOURCE), 'detail-type': z.literal(DetailType.ChildChanged), detail: childChangedDetailSchema }),
]);
export type ReconcileEvent = z.infer<typeof reconcileEventSchema>;

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
