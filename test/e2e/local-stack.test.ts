// End to end, as a user drives it: kubectl against the cluster, the forwarder watching it, the
// emulated bus, rule, queue and event source feeding the reconcile function, bundled as deployed.
// Nothing here calls a function directly, except the schedule's resync.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../infra/local/stack.js';
import { startTestStack } from '../support/stack.js';
import { adminClients, createNamespace, deleteNamespace, eventually, installCrd, kubectlOk, originalSample } from '../support/kube.js';
import { condition, getCr, readChildren } from '../support/operator.js';

const name = 'kindcustomhttp-sample';
let namespace: string;
let stack: LocalStack;

const children = () => readChildren(namespace, name);
const crEvents = async () => (await adminClients().core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name},involvedObject.kind=KindCustomHttp` })).items;
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
  it('turns the original sample CR into a Deployment, Service, ConfigMap and PodDisruptionBudget, and reports Ready with 2 ready replicas', async () => {
    await kubectlOk(['apply', '-f', '-'], originalSample(namespace));

    const cr = await converged('the CR to be Ready', async () => {
      const current = await getCr(namespace, name);
      return condition(current, 'Ready')?.status === 'True' ? current : undefined;
    });

    expect(cr.status).toMatchObject({ readyReplicas: 2, observedGeneration: cr.metadata.generation });
    const { Deployment: deployment, Service: service, ConfigMap: configMap, PodDisruptionBudget: budget } = await children();
    expect(deployment?.spec?.replicas).toBe(2);
    expect(budget?.spec?.maxUnavailable).toBe(1);
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

  it('puts back a Service port and a container’s name replaced by hand (another field manager), and stays Ready', async () => {
    await kubectlOk(['patch', '-n', namespace, 'service', name, '--type=json', '-p', '[{"op":"replace","path":"/spec/ports/0/port","value":9999}]']);
    await kubectlOk(['patch', '-n', namespace, 'deployment', name, '--type=json', '-p', '[{"op":"replace","path":"/spec/template/spec/containers/0/name","value":"renamed"}]']);

    await converged('the port and the container to be put back', async () => {
      const { Deployment: deployment, Service: service } = await children();
      return service?.spec?.ports?.[0]?.port === 8081 && deployment?.spec?.template.spec?.containers.map((c) => c.name).join() === 'http-server';
    });
    await converged('the CR to be Ready, not Degraded', async () => {
      const cr = await getCr(namespace, name);
      return condition(cr, 'Ready')?.status === 'True' && condition(cr, 'Degraded')?.status === 'False';
    });
    const repaired = await converged('an Event saying what was repaired', async () => {
      const events = await crEvents();
      return events.some((e) => e.message?.includes('Service')) && events.some((e) => e.message?.includes('Deployment')) ? events : undefined;
    });
    expect(repaired.map((e) => e.reason)).toContain('Repaired');
  });

  it('drops the PodDisruptionBudget when scaled to one replica, and makes it again at three', async () => {
    expect((await children()).PodDisruptionBudget?.spec?.maxUnavailable).toBe(1);
    await kubectlOk(['scale', '-n', namespace, 'kch', name, '--replicas=1']);
    await converged('the budget to be gone', async () => !(await children()).PodDisruptionBudget);

    await kubectlOk(['scale', '-n', namespace, 'kch', name, '--replicas=3']);
    await converged('the budget to be back', async () => (await children()).PodDisruptionBudget?.spec?.maxUnavailable === 1);
  });

  it('repairs drift made while the forwarder was down when the schedule runs the resync', async () => {
    await stack.stopForwarder();
    await kubectlOk(['scale', '-n', namespace, 'deployment', name, '--replicas=5']);
    await kubectlOk(['patch', '-n', namespace, 'configmap', `${name}-configmap`, '--type=merge', '-p', '{"data":{"hostports":"stale,1\\n"}}']);
    await kubectlOk(['patch', '-n', namespace, 'service', name, '--type=json', '-p', '[{"op":"replace","path":"/spec/ports/0/port","value":9999}]']);
    await kubectlOk(['delete', '-n', namespace, 'pdb', name]);

    const report = await stack.invokeResync([namespace]);

    expect(report).toMatchObject({ checked: 1, drifted: 1, repaired: 1, degraded: 0, failed: [] });
    const { Deployment: deployment, ConfigMap: configMap, Service: service, PodDisruptionBudget: budget } = await children();
    expect(deployment?.spec?.replicas).toBe(3);
    expect(configMap?.data?.hostports).toBe('peer-a,8080\npeer-b,8080\n');
    expect(service?.spec?.ports?.map((port) => port.port)).toEqual([8081, 8080]);
    expect(budget).toBeDefined();
    await stack.startForwarder();
  });

  it('leaves nothing the CR owned once it is deleted', async () => {
    await kubectlOk(['delete', '-n', namespace, 'kch', name]);

    await converged('every child to be gone', async () => Object.keys(await children()).length === 0);
  });
});
