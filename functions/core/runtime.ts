// The functions' Kubernetes API, built once per process from the environment. The environment is
// validated when a handler module loads (a bad setting fails the cold start, naming it); what
// needs the network (a kubeconfig kept in Secrets Manager) is fetched on first use and retried on
// the next invocation if that failed.
import { clusterEndpoint, type ClusterAccess } from './cluster-endpoint.js';
import type { FunctionEnvironment } from './environment.js';
import { KubeApi } from './kube-api.js';
import { KubeClient } from './kube-client.js';

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

export function kubeClient(access: ClusterAccess, env: Pick<FunctionEnvironment, 'KUBE_API_QPS' | 'KUBE_API_BURST' | 'KUBE_API_TIMEOUT_MS'>): KubeClient {
  return new KubeClient(clusterEndpoint(access), { rateLimit: { qps: env.KUBE_API_QPS, burst: env.KUBE_API_BURST }, timeoutMs: env.KUBE_API_TIMEOUT_MS });
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
