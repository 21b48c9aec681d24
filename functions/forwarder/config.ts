// The forwarder's configuration, read from the environment at start-up and validated, so a missing
// or malformed setting stops it at once with a message naming the variable.
import { hostname } from 'node:os';
import { z } from 'zod';
import { defaultClusterAccess, kubeClientSettings, positiveInt, readSettings } from '../core/settings.js';
import { namespaceName, objectName } from '../core/validation.js';

const positiveNumber = (fallback: number) => z.coerce.number().positive().default(fallback);

export const forwarderEnvironmentSchema = z
  .object({
    /** The EventBridge bus every event goes to. */
    EVENT_BUS_NAME: z.string({ error: 'is required: the EventBridge bus to put events on' }).min(1, 'must not be empty'),
    AWS_REGION: z.string({ error: 'is required: the region of the bus' }).min(1, 'must not be empty'),
    /** An EventBridge endpoint other than AWS's, for local runs and tests. */
    EVENTBRIDGE_ENDPOINT: z.url().optional(),
    /** Comma-separated namespaces to watch; all namespaces when empty or absent. */
    WATCH_NAMESPACES: z
      .string()
      .optional()
      .transform((value) => (value ?? '').split(',').map((n) => n.trim()).filter(Boolean))
      .refine((names) => names.every((n) => namespaceName.safeParse(n).success), 'must be namespace names separated by commas'),
    /** `in-cluster` in a pod; `kubeconfig` (with KUBECONFIG) elsewhere. Inferred when absent. */
    CLUSTER_ACCESS: z.enum(['kubeconfig', 'in-cluster']).optional(),
    ...kubeClientSettings({ qps: 20, burst: 40 }),
    /** Leader election: off only for a single local instance. */
    LEADER_ELECTION: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
    /** This instance's name in the Lease: the pod name. */
    POD_NAME: z.string().min(1).default(hostname()),
    /** The namespace of the Lease: the forwarder's own. */
    POD_NAMESPACE: namespaceName.optional(),
    LEASE_NAME: objectName.default('kindcustomhttp-forwarder'),
    LEASE_DURATION_SECONDS: positiveInt(15),
    LEASE_RENEW_DEADLINE_SECONDS: positiveInt(10),
    LEASE_RETRY_PERIOD_SECONDS: positiveNumber(2),
    QUEUE_CAPACITY: positiveInt(1_000),
    PUBLISH_CONCURRENCY: positiveInt(4),
    /** Events a second at most; unlimited when absent. Under a burst, events then wait and merge in the queue. */
    PUBLISH_RATE: z.coerce.number().positive().optional(),
    /** A PutEvents request unanswered this long is abandoned and its entries sent again. */
    PUT_EVENTS_TIMEOUT_MS: positiveInt(10_000),
    RETRY_BASE_MS: positiveInt(200),
    RETRY_MAX_MS: positiveInt(30_000),
    /** Events waiting this long with none reaching the bus: the forwarder is stuck, and /readyz says so. */
    PUBLISH_STUCK_SECONDS: positiveNumber(120),
    /** A watch silent (no event, no bookmark) this long is restarted; above the ~1 min bookmark interval. */
    WATCH_SILENCE_SECONDS: positiveNumber(90),
    LIST_PAGE_SIZE: positiveInt(500),
    /** Seconds to send what is queued after SIGTERM, within the pod's grace period. */
    DRAIN_SECONDS: positiveNumber(20),
    HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    LOG_LEVEL: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT']).default('INFO'),
  })
  .transform((env, ctx) => {
    const access = env.CLUSTER_ACCESS ?? defaultClusterAccess(env);
    if (access === 'kubeconfig' && !env.KUBECONFIG) ctx.addIssue({ code: 'custom', path: ['KUBECONFIG'], message: 'is required outside a pod' });
    if (env.LEADER_ELECTION && !env.POD_NAMESPACE) ctx.addIssue({ code: 'custom', path: ['POD_NAMESPACE'], message: 'is required for leader election (the namespace of the Lease)' });
    if (env.LEASE_RENEW_DEADLINE_SECONDS >= env.LEASE_DURATION_SECONDS) {
      ctx.addIssue({ code: 'custom', path: ['LEASE_RENEW_DEADLINE_SECONDS'], message: 'must be less than LEASE_DURATION_SECONDS' });
    }
    return { ...env, CLUSTER_ACCESS: access };
  });
export type ForwarderConfig = z.output<typeof forwarderEnvironmentSchema>;

export function readForwarderConfig(env: NodeJS.ProcessEnv = process.env): ForwarderConfig {
  return readSettings(forwarderEnvironmentSchema, env, 'forwarder environment');
}
