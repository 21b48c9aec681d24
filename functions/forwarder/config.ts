// The forwarder's configuration, read from the environment at start-up and validated, so a missing
// or malformed setting stops it at once with a message naming the variable.
import { hostname } from 'node:os';
import * as z from 'zod/mini';
import { defaultClusterAccess, kubeClientSettings, namespaceList, positiveInt, readSettings } from '../core/settings.js';
import { namespaceName, objectName } from '../core/validation.js';

const positiveNumber = (fallback: number) => z._default(z.coerce.number().check(z.positive()), fallback);
const required = (what: string) => z.string({ error: `is required: ${what}` }).check(z.minLength(1, 'must not be empty'));

const settings = z.object({
  /** The EventBridge bus every event goes to. */
  EVENT_BUS_NAME: required('the EventBridge bus to put events on'),
  AWS_REGION: required('the region of the bus'),
  /** An EventBridge endpoint other than AWS's, for local runs and tests. */
  EVENTBRIDGE_ENDPOINT: z.optional(z.url()),
  /** Comma-separated namespaces to watch; all namespaces when empty or absent. */
  WATCH_NAMESPACES: namespaceList,
  /** `in-cluster` in a pod; `kubeconfig` (with KUBECONFIG) elsewhere. Inferred when absent. */
  CLUSTER_ACCESS: z.optional(z.enum(['kubeconfig', 'in-cluster'])),
  ...kubeClientSettings({ qps: 20, burst: 40 }),
  /** Leader election: off only for a single local instance. */
  LEADER_ELECTION: z.pipe(z._default(z.enum(['true', 'false']), 'true'), z.transform((v) => v === 'true')),
  /** This instance's name in the Lease: the pod name. */
  POD_NAME: z._default(z.string().check(z.minLength(1)), hostname()),
  /** The namespace of the Lease: the forwarder's own. */
  POD_NAMESPACE: z.optional(namespaceName),
  LEASE_NAME: z._default(objectName, 'kindcustomhttp-forwarder'),
  LEASE_DURATION_SECONDS: positiveInt(15),
  LEASE_RENEW_DEADLINE_SECONDS: positiveInt(10),
  LEASE_RETRY_PERIOD_SECONDS: positiveNumber(2),
  QUEUE_CAPACITY: positiveInt(1_000),
  PUBLISH_CONCURRENCY: positiveInt(4),
  /** Events a second at most; unlimited when absent. Under a burst, events then wait and merge in the queue. */
  PUBLISH_RATE: z.optional(z.coerce.number().check(z.positive())),
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
  HTTP_PORT: z._default(z.coerce.number().check(z.int(), z.minimum(0), z.maximum(65535)), 8080),
  LOG_LEVEL: z._default(z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT']), 'INFO'),
});

export const forwarderEnvironmentSchema = z.pipe(
  settings,
  z.transform((env, ctx) => {
    const access = env.CLUSTER_ACCESS ?? defaultClusterAccess(env);
    const problem = (path: string, message: string) => ctx.issues.push({ code: 'custom', path: [path], message, input: env });
    if (access === 'kubeconfig' && !env.KUBECONFIG) problem('KUBECONFIG', 'is required outside a pod');
    if (env.LEADER_ELECTION && !env.POD_NAMESPACE) problem('POD_NAMESPACE', 'is required for leader election (the namespace of the Lease)');
    if (env.LEASE_RENEW_DEADLINE_SECONDS >= env.LEASE_DURATION_SECONDS) problem('LEASE_RENEW_DEADLINE_SECONDS', 'must be less than LEASE_DURATION_SECONDS');
    return { ...env, CLUSTER_ACCESS: access };
  }),
);
export type ForwarderConfig = z.output<typeof forwarderEnvironmentSchema>;

export function readForwarderConfig(env: NodeJS.ProcessEnv = process.env): ForwarderConfig {
  return readSettings(forwarderEnvironmentSchema, env, 'forwarder environment');
}
