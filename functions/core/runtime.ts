// The functions' Kubernetes API, built once per process from the environment. The environment is
// validated when a handler module loads (a bad setting fails the cold start, naming it); what
// needs the network (a kubeconfig kept in Secrets Manager) is fetched on first use and retried on
// the next invocation if that failed.
import { clusterEndpoint, type ClusterAccess } from './cluster-endpoint.js';
import type { FunctionEnvironment } from './environment.js';
import { KubeApi } from './kube-api.js';
import { KubeClient, type CongestionEvent } from './kube-client.js';
import { logger, metrics, MetricUnit } from './observability.js';

async function clusterAccess(env: FunctionEnvironment): Promise<ClusterAccess> {
  switch (env.CLUSTER_ACCESS) {
    case 'kubeconfig':
      return { mode: 'kubeconfig', path: env.KUBECONFIG!, context: env.KUBE_CONTEXT };
    case 'in-cluster':
      return { mode: 'in-cluster' };
    case 'eks': {
      const { EksTokenSource } = await import('./eks-token.js');
      const tokens = new EksTokenSource({ clusterName: env.EKS_CLUSTER_NAME!, region: env.AWS_REGION! });
      return { mode: 'eks', server: env.EKS_CLUSTER_ENDPOINT!, caData: env.EKS_CLUSTER_CA!, tokens };
    }
    case 'secret': {
      const { readKubeconfigSecret } = await import('./kubeconfig-secret.js');
      return { mode: 'kubeconfig-string', kubeconfig: await readKubeconfigSecret(env.KUBECONFIG_SECRET_ID!), context: env.KUBE_CONTEXT };
    }
  }
}

type ClientEnvironment = Pick<
  FunctionEnvironment,
  'KUBE_API_QPS' | 'KUBE_API_BURST' | 'KUBE_API_TIMEOUT_MS' | 'KUBE_API_WRITE_TIMEOUT_MS' | 'KUBE_API_MIN_WRITES_IN_FLIGHT' | 'KUBE_API_MAX_WRITES_IN_FLIGHT'
>;

/** Writes in flight when an instance starts: a batch's ten CRs, two or three children each, before the limit learns. */
const INITIAL_WRITES_IN_FLIGHT = 20;

export function kubeClient(access: ClusterAccess, env: ClientEnvironment): KubeClient {
  return new KubeClient(clusterEndpoint(access), {
    rateLimit: { qps: env.KUBE_API_QPS, burst: env.KUBE_API_BURST },
    timeoutMs: env.KUBE_API_TIMEOUT_MS,
    writeTimeoutMs: env.KUBE_API_WRITE_TIMEOUT_MS,
    writeConcurrency: writeConcurrency(env),
    onCongestion: reportCongestion,
  });
}

/**
 * The write limit's bounds. The minimum keeps an instance on four of its CRs at once however slow
 * the API server gets: fewer, and it could not finish a batch of ten in its time while the API
 * server creates a burst's Services one by one (its ClusterIP allocator); the CRs it did not reach
 * would wait out the queue's visibility timeout.
 */
function writeConcurrency(env: ClientEnvironment) {
  const max = env.KUBE_API_MAX_WRITES_IN_FLIGHT;
  const min = Math.min(env.KUBE_API_MIN_WRITES_IN_FLIGHT, max);
  return { initial: Math.min(Math.max(INITIAL_WRITES_IN_FLIGHT, min), max), min, max };
}

/** Each retry after a 429 and each abandoned write, as a log line (which the benchmark counts) and a metric. */
function reportCongestion(event: CongestionEvent): void {
  if (event.kind === 'throttled') {
    logger.warn('API request throttled; sending it again', { request: event.what, code: event.code, retryAfterMs: event.retryAfterMs, attempt: event.attempt });
    metrics.addMetric('ThrottledRetries', MetricUnit.Count, 1);
  } else {
    logger.warn('API write abandoned without an answer', { request: event.what, waitedMs: event.ms });
    metrics.addMetric('AbandonedWrites', MetricUnit.Count, 1);
  }
}

/** The process's KubeApi, created on first use; a failed start is tried again on the next call. */
export function lazyKubeApi(env: FunctionEnvironment): () => Promise<KubeApi> {
  let api: Promise<KubeApi> | undefined;
  return () => {
    api ??= clusterAccess(env)
      .then((access) => new KubeApi(kubeClient(access, env)))
      .catch((error: unknown) => {
        api = undefined;
        throw error;
      });
    return api;
  };
}
