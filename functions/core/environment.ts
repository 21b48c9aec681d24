// The functions' configuration, read from the environment once at cold start and validated, so a
// missing or malformed setting fails fast with a message naming it.
import { z } from 'zod';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const functionEnvironmentSchema = z
  .object({
    /** How to reach the cluster; inferred from the other settings when absent. */
    CLUSTER_ACCESS: z.enum(['kubeconfig', 'in-cluster', 'eks', 'secret']).optional(),
    KUBECONFIG: z.string().min(1).optional(),
    KUBE_CONTEXT: z.string().min(1).optional(),
    EKS_CLUSTER_NAME: z.string().min(1).optional(),
    EKS_CLUSTER_ENDPOINT: z.url().optional(),
    /** Base64 PEM of the cluster's CA, as `aws eks describe-cluster` prints it. */
    EKS_CLUSTER_CA: z.string().min(1).optional(),
    /** Secrets Manager id of a kubeconfig, for clusters other than EKS. */
    KUBECONFIG_SECRET_ID: z.string().min(1).optional(),
    AWS_REGION: z.string().min(1).optional(),
    /** Client-side rate limit on Kubernetes API requests, per function instance. */
    KUBE_API_QPS: positiveInt(50),
    KUBE_API_BURST: positiveInt(100),
    /** A Kubernetes API request with no answer after this long fails as transient (and is retried). */
    KUBE_API_TIMEOUT_MS: positiveInt(10_000),
    /**
     * Reconciles one process runs at once. On AWS a process serves one invocation at a time and the
     * function's reserved concurrency bounds the instances; `osls offline` serves every invocation
     * in one process, where this stands in for reserved concurrency.
     */
    MAX_CONCURRENT_RECONCILES: positiveInt(10),
    /** How many CRs the resync converges at once, and how many it lists per page. */
    RESYNC_CONCURRENCY: positiveInt(8),
    RESYNC_PAGE_SIZE: positiveInt(200),
  })
  .transform((env, ctx) => {
    const access =
      env.CLUSTER_ACCESS ??
      (env.EKS_CLUSTER_NAME ? 'eks' : env.KUBECONFIG_SECRET_ID ? 'secret' : process.env.KUBERNETES_SERVICE_HOST && !env.KUBECONFIG ? 'in-cluster' : 'kubeconfig');
    const required: Record<typeof access, Array<keyof typeof env>> = {
      kubeconfig: ['KUBECONFIG'],
      'in-cluster': [],
      eks: ['EKS_CLUSTER_NAME', 'EKS_CLUSTER_ENDPOINT', 'EKS_CLUSTER_CA', 'AWS_REGION'],
      secret: ['KUBECONFIG_SECRET_ID'],
    };
    for (const key of required[access]) {
      if (!env[key]) ctx.addIssue({ code: 'custom', path: [key], message: `is required when cluster access is ${access}` });
    }
    return { ...env, CLUSTER_ACCESS: access };
  });
export type FunctionEnvironment = z.output<typeof functionEnvironmentSchema>;

export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

export function readFunctionEnvironment(env: NodeJS.ProcessEnv = process.env): FunctionEnvironment {
  const result = functionEnvironmentSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'environment'} ${issue.message}`).join('; ');
    throw new ConfigurationError(`invalid environment: ${problems}`);
  }
  return result.data;
}
