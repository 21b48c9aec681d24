// The functions' configuration: one schema, read from the environment at cold start.
import * as z from 'zod/mini';
import { defaultImagePolicy, imageAllowed } from './images.js';
import type { OperatorSettings } from './reconciler.js';
import { defaultClusterAccess, imageList, kubeClientSettings, namespaceList, positiveInt, readSettings } from './settings.js';

const someText = z.optional(z.string().check(z.minLength(1)));

const settings = z.object({
  /** How to reach the cluster; inferred from the other settings when absent. */
  CLUSTER_ACCESS: z.optional(z.enum(['kubeconfig', 'in-cluster', 'eks', 'secret'])),
  ...kubeClientSettings({ qps: 50, burst: 100 }),
  /**
   * How long a write may wait for its answer, within the invocation's time. The API server's own
   * request timeout is 60 s: by then it has answered, one way or the other.
   */
  KUBE_API_WRITE_TIMEOUT_MS: positiveInt(60_000),
  /** The fewest and the most writes in flight at once per instance; the adaptive limit moves between them. */
  KUBE_API_MIN_WRITES_IN_FLIGHT: positiveInt(10),
  KUBE_API_MAX_WRITES_IN_FLIGHT: positiveInt(100),
  EKS_CLUSTER_NAME: someText,
  EKS_CLUSTER_ENDPOINT: z.optional(z.url()),
  /** Base64 PEM of the cluster's CA, as `aws eks describe-cluster` prints it. */
  EKS_CLUSTER_CA: someText,
  /** Secrets Manager id of a kubeconfig, for clusters other than EKS. */
  KUBECONFIG_SECRET_ID: someText,
  AWS_REGION: someText,
  /** How many CRs the resync converges at once, and how many objects it lists per page. */
  RESYNC_CONCURRENCY: positiveInt(8),
  RESYNC_PAGE_SIZE: positiveInt(500),
  /** The images a CR may name (images.ts says what an entry allows); empty or absent: the defaults. */
  ALLOWED_IMAGES: imageList,
  /** The image of a CR that names none; it must be allowed. */
  DEFAULT_IMAGE: z._default(z.string().check(z.regex(/^\S+$/, 'must be an image reference')), defaultImagePolicy.defaultImage),
  /** The namespaces the functions serve, as the forwarder's WATCH_NAMESPACES; empty or absent: all. */
  WATCH_NAMESPACES: namespaceList,
});

export const functionEnvironmentSchema = z.pipe(
  settings,
  z.transform((env, ctx) => {
    const access = env.CLUSTER_ACCESS ?? (env.EKS_CLUSTER_NAME ? 'eks' : env.KUBECONFIG_SECRET_ID ? 'secret' : defaultClusterAccess(env));
    const required: Record<typeof access, Array<keyof typeof env>> = {
      kubeconfig: ['KUBECONFIG'],
      'in-cluster': [],
      eks: ['EKS_CLUSTER_NAME', 'EKS_CLUSTER_ENDPOINT', 'EKS_CLUSTER_CA', 'AWS_REGION'],
      secret: ['KUBECONFIG_SECRET_ID'],
    };
    for (const key of required[access]) {
      if (!env[key]) ctx.issues.push({ code: 'custom', path: [key], message: `is required when cluster access is ${access}`, input: env });
    }
    const images = { allowed: env.ALLOWED_IMAGES.length > 0 ? env.ALLOWED_IMAGES : defaultImagePolicy.allowed, defaultImage: env.DEFAULT_IMAGE };
    if (!imageAllowed(images, images.defaultImage)) {
      ctx.issues.push({ code: 'custom', path: ['DEFAULT_IMAGE'], message: `is not allowed by ALLOWED_IMAGES (${images.allowed.join(',')})`, input: env });
    }
    const operator: OperatorSettings = { images, namespaces: env.WATCH_NAMESPACES };
    return { ...env, CLUSTER_ACCESS: access, operator };
  }),
);
export type FunctionEnvironment = z.output<typeof functionEnvironmentSchema>;

export function readFunctionEnvironment(env: NodeJS.ProcessEnv = process.env): FunctionEnvironment {
  return readSettings(functionEnvironmentSchema, env, 'environment');
}
