// The functions' Kubernetes client, built once per process from the environment.
import { loadClusterConfig, type ClusterAccess } from './cluster-access.js';
import { readFunctionEnvironment, type FunctionEnvironment } from './environment.js';
import { KubeApi } from './kube-api.js';

async function clusterAccess(env: FunctionEnvironment): Promise<ClusterAccess> {
  switch (env.CLUSTER_ACCESS) {
    case 'kubeconfig':
      return { mode: 'kubeconfig', path: env.KUBECONFIG!, context: env.KUBE_CONTEXT };
    case 'in-cluster':
      return { mode: 'in-cluster' };
    case 'eks': {
      const { EksTokenSource } = await import('./eks-token.js');
      return {
        mode: 'eks',
        cluster: { server: env.EKS_CLUSTER_ENDPOINT!, caData: env.EKS_CLUSTER_CA! },
        tokens: new EksTokenSource({ clusterName: env.EKS_CLUSTER_NAME!, region: env.AWS_REGION! }),
      };
    }
    case 'secret': {
      const { readKubeconfigSecret } = await import('./kubeconfig-secret.js');
      return { mode: 'kubeconfig-string', kubeconfig: await readKubeconfigSecret(env.KUBECONFIG_SECRET_ID!) };
    }
  }
}

let runtime: Promise<{ api: KubeApi; env: FunctionEnvironment }> | undefined;

/** The process's KubeApi and environment; a failed start is retried on the next call. */
export function functionRuntime(): Promise<{ api: KubeApi; env: FunctionEnvironment }> {
  runtime ??= (async () => {
    const env = readFunctionEnvironment();
    const config = loadClusterConfig(await clusterAccess(env), { qps: env.KUBE_API_QPS, burst: env.KUBE_API_BURST }, env.KUBE_API_TIMEOUT_MS);
    return { api: new KubeApi(config), env };
  })().catch((error: unknown) => {
    runtime = undefined;
    throw error;
  });
  return runtime;
}
