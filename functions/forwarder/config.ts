// The forwarder's configuration, read from the environment at start-up and validated, so a missing
// or malformed setting stops it at once with a message naming the variable.
import { hostname } from 'node:os';
import { z } from 'zod';
import { ConfigurationError } from '../core/settings.js';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const kubernetesName = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

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
      .refine((names) => names.every((n) => kubernetesName.test(n)), 'must be namespace names separated by commas'),
    /** `in-cluster` in a pod; `kubeconfig` (with KUBECONFIG) elsewhere. Inferred when absent. */
    CLUSTER_ACCESS: z.enum(['kubeconfig', 'in-cluster']).optional(),
    KUBECONFIG: z.string().min(1).optional(),
    KUBE_CONTEXT: z.string().min(1).optional(),
    KUBE_API_QPS: positiveInt(20),
    KUBE_API_BURST: positiveInt(40),
    /** Leader election: off only for a single local instance. */
    LEADER_ELECTION: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
    /** This instance's name in the Lease: the pod name. */
    POD_NAME: z.string().min(1).default(hostname()),
    /** The namespace of the Lease: the forwarder's own. */
    POD_NAMESPACE: z.string().regex(kubernetesName, 'must be a namespace name').optional(),
    LEASE_NAME: z.string().regex(kubernetesName, 'must be a Lease name').default('kindcustomhttp-forwarder'),
    LEASE_DURATION_SECONDS: positiveInt(15),
    LEASE_RENEW_DEADLINE_SECONDS: positiveInt(10),
    LEASE_RETRY_PERIOD_SECONDS: z.coerce.number().positive().default(2),
    /** How long an event waits for newer versions of its object before it is sent. */
    COALESCE_MS: z.coerce.number().int().nonnegative().default(500),
    QUEUE_CAPACITY: positiveInt(10_000),
    PUBLISH_CONCURRENCY: positiveInt(4),
    /** A PutEvents request unanswered this long is abandoned and its entries sent again. */
    PUT_EVENTS_TIMEOUT_MS: positiveInt(10_000),
    RETRY_BASE_MS: positiveInt(200),
    RETRY_MAX_MS: positiveInt(30_000),
    /** A watch silent (no event, no bookmark) this long is restarted; above the ~1 min bookmark interval. */
    WATCH_SILENCE_SECONDS: z.coerce.number().positive().default(90),
    LIST_PAGE_SIZE: positiveInt(500),
    /** Seconds to send what is queued after SIGTERM, within the pod's grace period. */
    DRAIN_SECONDS: z.coerce.number().positive().default(20),
    HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    LOG_LEVEL: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT']).default('INFO'),
  })
  .transform((env, ctx) => {
    const access = env.CLUSTER_ACCESS ?? (process.env.KUBERNETES_SERVICE_HOST && !env.KUBECONFIG ? 'in-cluster' : 'kubeconfig');
    if (access === 'kubeconfig' && !env.KUBECONFIG) ctx.addIssue({ code: 'custom', path: ['KUBECONFIG'], message: 'is required outside a pod' });
    if (env.LEADER_ELECTION && !env.POD_NAMESPACE) ctx.addIssue({ code: 'custom', path: ['POD_NAMESPACE'], message: 'is required for leader election (the namespace of the Lease)' });
    if (env.LEASE_RENEW_DEADLINE_SECONDS >= env.LEASE_DURATION_SECONDS) {
      ctx.addIssue({ code: 'custom', path: ['LEASE_RENEW_DEADLINE_SECONDS'], message: 'must be less than LEASE_DURATION_SECONDS' });
    }
    return { ...env, CLUSTER_ACCESS: access };
  });
export type ForwarderConfig = z.output<typeof forwarderEnvironmentSchema>;

export function readForwarderConfig(env: NodeJS.ProcessEnv = process.env): ForwarderConfig {
  const result = forwarderEnvironmentSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'environment'} ${issue.message}`).join('; ');
    throw new ConfigurationError(`invalid forwarder environment: ${problems}`);
  }
  return result.data;
}
