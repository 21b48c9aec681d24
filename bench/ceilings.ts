// What the control plane itself can take, with no operator running: creates a second of a plain
// object (ConfigMap) and of a ClusterIP Service. Since Kubernetes 1.33 the apiserver allocates
// each ClusterIP by creating an IPAddress object under one mutex, so Services are created one
// after another however many clients ask at once; the burst's "all children" cannot beat
// burst size / this rate, and under the pods' load the rate falls further.
import { clusterEndpoint } from '../functions/core/cluster-endpoint.js';
import { forEachBounded } from '../functions/core/concurrency.js';
import { KubeClient } from '../functions/core/kube-client.js';
import { deleteNamespaceAndWait, round, timed } from './stats.js';

const CONCURRENCY = 32;

export async function benchCeilings(kubeconfig: string, count: number): Promise<Record<string, number>> {
  const client = new KubeClient(clusterEndpoint({ mode: 'kubeconfig', path: kubeconfig }), { timeoutMs: 60_000 });
  const namespace = `bench-ceilings-${Date.now().toString(36)}`;
  await client.request('/api/v1/namespaces', { method: 'POST', body: { metadata: { name: namespace } } });
  const names = Array.from({ length: count }, (_, i) => `object-${i}`);
  const createAll = (path: string, body: (name: string) => object) =>
    timed(() => forEachBounded(names, CONCURRENCY, async (name) => void (await client.request(path, { method: 'POST', body: body(name) }))));
  try {
    const configMaps = await createAll(`/api/v1/namespaces/${namespace}/configmaps`, (name) => ({ metadata: { name }, data: { hostports: 'localhost,8080\n' } }));
    const services = await createAll(`/api/v1/namespaces/${namespace}/services`, (name) => ({
      metadata: { name },
      spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    }));
    return {
      'ceilings.objects': count,
      'ceilings.configmap_creates_per_second': Math.round(count / (configMaps.ms / 1000)),
      'ceilings.clusterip_service_creates_per_second': Math.round(count / (services.ms / 1000)),
      'ceilings.clusterip_services_seconds': round(services.ms / 1000, 2),
    };
  } finally {
    await deleteNamespaceAndWait(client, namespace);
  }
}
