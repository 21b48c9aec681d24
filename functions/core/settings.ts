// What every process's configuration shares: settings read from the environment once at start-up
// and validated, so a missing or malformed one stops the process with a message naming it.
import * as z from 'zod/mini';
import { describeIssues, namespaceName } from './validation.js';

export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

export const positiveInt = (fallback: number) => z._default(z.coerce.number().check(z.int(), z.positive()), fallback);

/** Comma-separated values, trimmed, the empty ones dropped: `a, b,` is `['a', 'b']`. */
const commaList = z.pipe(z.optional(z.string()), z.transform((value: string | undefined) => (value ?? '').split(',').map((item) => item.trim()).filter(Boolean)));

/**
 * The namespaces a process serves: comma-separated names, all namespaces when empty or absent.
 * The forwarder watches them and the functions reconcile and resync them (WATCH_NAMESPACES); the
 * namespaced mode (infra/namespaced) grants RBAC in exactly these.
 */
export const namespaceList = z.pipe(
  commaList,
  z.array(z.string()).check(z.refine((names) => names.every((n) => namespaceName.safeParse(n).success), 'must be namespace names separated by commas')),
);

/** Image references, comma-separated: see functions/core/images.ts for what each entry allows. */
export const imageList = z.pipe(
  commaList,
  z.array(z.string()).check(z.refine((refs) => refs.every((ref) => /^[^\s,]+$/.test(ref)), 'must be image references or prefixes separated by commas')),
);

/** The Kubernetes client's settings; each process chooses its own rate limit. */
export function kubeClientSettings(defaults: { qps: number; burst: number }) {
  return {
    KUBECONFIG: z.optional(z.string().check(z.minLength(1))),
    KUBE_CONTEXT: z.optional(z.string().check(z.minLength(1))),
    /** Set in every pod; with no KUBECONFIG, a process in a pod uses its service account. */
    KUBERNETES_SERVICE_HOST: z.optional(z.string().check(z.minLength(1))),
    /** Client-side rate limit on Kubernetes API requests, per process. */
    KUBE_API_QPS: positiveInt(defaults.qps),
    KUBE_API_BURST: positiveInt(defaults.burst),
    /** A Kubernetes API request with no answer after this long fails (as transient) and the connections are replaced. */
    KUBE_API_TIMEOUT_MS: positiveInt(10_000),
  };
}

/** A kubeconfig when one is given, else the pod's service account when in a pod. */
export function defaultClusterAccess(env: { KUBECONFIG?: string; KUBERNETES_SERVICE_HOST?: string }): 'kubeconfig' | 'in-cluster' {
  return env.KUBERNETES_SERVICE_HOST && !env.KUBECONFIG ? 'in-cluster' : 'kubeconfig';
}

/** Parses `env` with a process's schema, or throws a ConfigurationError naming every bad setting. */
export function readSettings<S extends z.ZodMiniType>(schema: S, env: NodeJS.ProcessEnv, what: string): z.output<S> {
  const result = schema.safeParse(env);
  if (!result.success) throw new ConfigurationError(`invalid ${what}: ${describeIssues(result.error.issues)}`);
  return result.data;
}
