// End to end, as a user drives it: kubectl against the cluster, the forwarder watching it, the
// emulated bus, rule, queue and event source feeding the reconcile function, bundled as deployed.
// Nothing here calls a function directly, except the schedule's resync.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../infra/local/stack.js';
import { startTestStack } from '../support/stack.js';
import { createNamespace, deleteNamespace, eventually, installCrd, kubectlOk, originalSample } from '../support/kube.js';
import { condition, getCr, readChildren } from '../support/operator.js';

const name = 'kindcustomhttp-sample';
let namespace: string;
let stack: LocalStack;

const children = () => readChildren(namespace, name);
const converged = <T>(what: string, check: () => Promise<T | undefined | false>) => eventually(what, check, { timeoutMs: 60_000, intervalMs: 250 });

beforeAll(async () => {
  await installCrd();
  namespace = await createNamespace('e2e');
  stack = await startTestStack(namespace);
});
afterAll(async () => {
  await stack?.stop();
  await deleteNamespace(namespace);
});

describe('the local stack', () => {
  it('turns the original sample CR into a Deployment, Service and ConfigMap, and reports Ready with 2 ready replicas', async () => {
    await kubectlOk(['apply', '-f', '-'], originalSample(namespace));

    const cr = await converged('the CR to be Ready', async () => {
      const current = await getCr(namespace, name);
      return condition(current, 'Ready')?.status === 'True' ? current : undefined;
    });

    expect(cr.status).toMatchObject({ readyReplicas: 2, observedGeneration: cr.metadata.generation });
    const { Deployment: deployment, Service: service, ConfigMap: configMap } = await children();
    expect(deployment?.spec?.replicas).toBe(2);
    expect(deployment?.spec?.template.spec?.containers[0]?.ports?.[0]?.containerPort).toBe(8080);
    expect(service?.spec?.ports?.[0]).toMatchObject({ port: 80, targetPort: 'http' });
    expect(configMap?.data).toEqual({ hostports: 'localhost,8080\n' });
    expect(stack.busFigures().invocations).toBeGreaterThan(0);
    expect(stack.busFigures()).toMatchObject({ failedInvocations: 0, deadLettered: 0 });
  });

  it('converges a change of replicaCount, port and hostports', async () => {
    await kubectlOk(['patch', '-n', namespace, 'kch', name, '--type=merge', '-p', JSON.stringify({ spec: { replicaCount: 3, port: 8081, configMapData: { hostports: 'peer-a,8080\npeer-b,8080\n' } } })]);

    await converged('the children to follow the new spec', async () => {
      const { Deployment: deployment, Service: service, ConfigMap: configMap } = await children();
      return deployment?.spec?.replicas === 3 && service?.spec?.ports?.[0]?.port === 8081 && configMap?.data?.hostports === 'peer-a,8080\npeer-b,8080\n';
    });
    await converged('the CR to report 3 ready replicas', async () => (await getCr(namespace, name)).status?.readyReplicas === 3);
  });

  it('recreates a deleted Service without waiting for the resync', async () => {
    const before = (await children()).Service?.metadata?.uid;
    await kubectlOk(['delete', '-n', namespace, 'service', name]);

    await converged('the Service to be back', async () => {
      const service = (await children()).Service;
      return service && service.metadata?.uid !== before;
    });
  });

  it('scales a Deployment scaled by hand back without waiting for the resync', async () => {
    await kubectlOk(['scale', '-n', namespace, 'deployment', name, '--replicas=1']);

    await converged('the Deployment to be scaled back to 3', async () => (await children()).Deployment?.spec?.replicas === 3);
  });

  it('repairs drift made while the forwarder was down when the schedule runs the resync', async () => {
    await stack.stopForwarder();
    await kubectlOk(['scale', '-n', namespace, 'deployment', name, '--replicas=5']);
    await kubectlOk(['patch', '-n', namespace, 'configmap', `${name}-configmap`, '--type=merge', '-p', '{"data":{"hostports":"stale,1\\n"}}']);

    const report = await stack.invokeResync([namespace]);

    expect(report).toMatchObject({ checked: 1, drifted: 1, repaired: 1, failed: [] });
    const { Deployment: deployment, ConfigMap: configMap } = await children();
    expect(deployment?.spec?.replicas).toBe(3);
    expect(configMap?.data?.hostports).toBe('peer-a,8080\npeer-b,8080\n');
    await stack.startForwarder();
  });

  it('leaves nothing the CR owned once it is deleted', async () => {
    await kubectlOk(['delete', '-n', namespace, 'kch', name]);

    await converged('every child to be gone', async () => {
      const { Deployment: deployment, Service: service, ConfigMap: configMap } = await children();
      return !deployment && !service && !configMap;
    });
  });
});
