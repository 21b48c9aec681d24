// The reconcile core against the real control plane: create, update, drift, idempotence,
// deletion, status and concurrency.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcile } from '../../functions/core/reconciler.js';
import { adminClients, createNamespace, deleteNamespace, eventually, installCrd, kubectlOk, originalSample } from '../support/kube.js';
import {
  condition,
  createCr,
  deleteCr,
  getCr,
  operatorApi,
  patchCrMetadata,
  patchCrSpec,
  readChildren,
  reconcileUntilReady,
  resourceVersions,
  silentLog,
} from '../support/operator.js';

const api = operatorApi();
const { apps, core } = adminClients();
const converge = (namespace: string, name: string) => reconcile({ api, log: silentLog }, { namespace, name });
let namespace: string;

beforeAll(async () => {
  await installCrd();
  namespace = await createNamespace('reconcile');
});
afterAll(() => deleteNamespace(namespace));

describe('reconcile', () => {
  describe('when the original sample CR is applied with kubectl', () => {
    const name = 'kindcustomhttp-sample';

    beforeAll(async () => {
      await kubectlOk(['apply', '-f', '-'], originalSample(namespace));
    });

    it('creates the Deployment, Service and ConfigMap with the right spec', async () => {
      const result = await converge(namespace, name);

      expect(result.outcome).toBe('converged');
      expect(result.changes.map((c) => `${c.action} ${c.kind}`).sort()).toEqual(['created ConfigMap', 'created Deployment', 'created Service']);
      const { deployment, service, configMap } = await readChildren(namespace, name);
      expect(deployment?.spec?.replicas).toBe(2);
      expect(deployment?.spec?.template.spec?.containers[0]?.ports?.[0]?.containerPort).toBe(8080);
      expect(service?.spec?.ports?.[0]).toMatchObject({ port: 80, targetPort: 'http' });
      expect(configMap?.data).toEqual({ hostports: 'localhost,8080\n' });
      const cr = await getCr(namespace, name);
      for (const child of [deployment, service, configMap]) {
        expect(child?.metadata?.ownerReferences).toEqual([expect.objectContaining({ uid: cr.metadata.uid, controller: true, blockOwnerDeletion: true })]);
      }
    });

    it('reports Ready with 2 ready replicas once the pods are Ready', async () => {
      await reconcileUntilReady(api, namespace, name);

      const cr = await getCr(namespace, name);
      expect(cr.status).toMatchObject({ observedGeneration: cr.metadata.generation, replicas: 2, readyReplicas: 2 });
      expect(condition(cr, 'Ready')).toMatchObject({ status: 'True', reason: 'Available' });
      expect(condition(cr, 'Progressing')).toMatchObject({ status: 'False' });
      expect(condition(cr, 'Degraded')).toMatchObject({ status: 'False' });
    });

    it('records Events on the CR for the children it created', async () => {
      const events = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name},involvedObject.kind=KindCustomHttp` });
      expect(events.items.map((e) => e.reason)).toEqual(expect.arrayContaining(['Created']));
      expect(events.items.map((e) => e.message).join('\n')).toMatch(/created Deployment kindcustomhttp-sample/);
    });

    it('writes nothing when reconciled again unchanged', async () => {
      const before = await resourceVersions(namespace, name);

      const result = await converge(namespace, name);

      expect(result).toMatchObject({ outcome: 'converged', changes: [], statusUpdated: false });
      expect(await resourceVersions(namespace, name)).toEqual(before);
    });
  });

  describe('when a spec field changes', () => {
    const name = 'updates';

    beforeAll(async () => {
      await createCr(namespace, name);
      await converge(namespace, name);
    });

    it('scales the Deployment to a new replicaCount', async () => {
      await patchCrSpec(namespace, name, { replicaCount: 3 });
      const result = await converge(namespace, name);
      expect(result.changes).toEqual([expect.objectContaining({ kind: 'Deployment', action: 'updated', fields: ['spec.replicas'] })]);
      expect((await readChildren(namespace, name)).deployment?.spec?.replicas).toBe(3);
    });

    it('moves the Service to a new port', async () => {
      await patchCrSpec(namespace, name, { port: 9090 });
      await converge(namespace, name);
      expect((await readChildren(namespace, name)).service?.spec?.ports?.[0]?.port).toBe(9090);
    });

    it('rewrites the ConfigMap with new hostports without rolling the pods', async () => {
      const templateBefore = (await readChildren(namespace, name)).deployment?.spec?.template;
      await patchCrSpec(namespace, name, { configMapData: { hostports: 'peer-a,8080\npeer-b,8080\n' } });
      await converge(namespace, name);
      const { configMap, deployment } = await readChildren(namespace, name);
      expect(configMap?.data).toEqual({ hostports: 'peer-a,8080\npeer-b,8080\n' });
      expect(deployment?.spec?.template).toEqual(templateBefore);
    });

    it('rolls out a new image', async () => {
      await patchCrSpec(namespace, name, { image: 'measutosh/http-server:v2' });
      await converge(namespace, name);
      expect((await readChildren(namespace, name)).deployment?.spec?.template.spec?.containers[0]?.image).toBe('measutosh/http-server:v2');
    });

    it('reports the new generation once converged', async () => {
      await reconcileUntilReady(api, namespace, name);
      const cr = await getCr(namespace, name);
      expect(cr.status?.observedGeneration).toBe(cr.metadata.generation);
      expect(cr.status?.readyReplicas).toBe(3);
    });
  });

  describe('when two CRs live in one namespace', () => {
    it('gives each its own pods and selects no pod of the other', async () => {
      await Promise.all([createCr(namespace, 'peer-a', { replicaCount: 1 }), createCr(namespace, 'peer-b', { replicaCount: 2 })]);
      await Promise.all([reconcileUntilReady(api, namespace, 'peer-a'), reconcileUntilReady(api, namespace, 'peer-b')]);

      for (const [name, replicas] of [['peer-a', 1], ['peer-b', 2]] as const) {
        const { service } = await readChildren(namespace, name);
        const selector = Object.entries(service!.spec!.selector!).map(([k, v]) => `${k}=${v}`).join(',');
        const pods = await core.listNamespacedPod({ namespace, labelSelector: selector });
        expect(pods.items).toHaveLength(replicas);
        expect(pods.items.every((pod) => pod.metadata?.ownerReferences?.[0]?.name.startsWith(`${name}-`))).toBe(true);
        expect((await getCr(namespace, name)).status?.readyReplicas).toBe(replicas);
      }
    });
  });

  describe('when the children drift', () => {
    const name = 'drift';

    beforeAll(async () => {
      await createCr(namespace, name);
      await converge(namespace, name);
    });

    it('scales a Deployment scaled by hand back', async () => {
      await kubectlOk(['scale', '-n', namespace, 'deployment', name, '--replicas=5']);
      const result = await converge(namespace, name);
      expect(result.changes).toEqual([expect.objectContaining({ kind: 'Deployment', fields: ['spec.replicas'] })]);
      expect((await readChildren(namespace, name)).deployment?.spec?.replicas).toBe(2);
    });

    it('reverts an image edited by hand', async () => {
      await kubectlOk(['set', 'image', '-n', namespace, `deployment/${name}`, 'http-server=evil/image:1']);
      await converge(namespace, name);
      expect((await readChildren(namespace, name)).deployment?.spec?.template.spec?.containers[0]?.image).toBe('measutosh/http-server');
    });

    it('reverts a ConfigMap edited by hand', async () => {
      await kubectlOk(['patch', '-n', namespace, 'configmap', `${name}-configmap`, '--type=merge', '-p', '{"data":{"hostports":"elsewhere,1\\n"}}']);
      await converge(namespace, name);
      expect((await readChildren(namespace, name)).configMap?.data).toEqual({ hostports: 'localhost,8080\n' });
    });

    it('recreates a deleted Service', async () => {
      await core.deleteNamespacedService({ namespace, name });
      const result = await converge(namespace, name);
      expect(result.changes).toEqual([expect.objectContaining({ kind: 'Service', action: 'created' })]);
      expect((await readChildren(namespace, name)).service?.spec?.ports?.[0]?.port).toBe(80);
    });

    it('keeps fields other managers own, such as an extra label', async () => {
      await kubectlOk(['label', '-n', namespace, 'deployment', name, 'team=payments']);
      const result = await converge(namespace, name);
      expect(result.changes).toEqual([]);
      expect((await readChildren(namespace, name)).deployment?.metadata?.labels?.team).toBe('payments');
    });
  });

  describe('when the CR is deleted', () => {
    it('lets the garbage collector delete every child', async () => {
      const name = 'deleted';
      await createCr(namespace, name);
      await converge(namespace, name);

      await deleteCr(namespace, name);
      const result = await converge(namespace, name);

      expect(result.outcome).toBe('not-found');
      await eventually('the children to be collected', async () => {
        const children = await readChildren(namespace, name);
        return !children.deployment && !children.service && !children.configMap;
      });
    });

    it('hands the children to a CR recreated with the same name', async () => {
      const name = 'reborn';
      const first = await createCr(namespace, name);
      await converge(namespace, name);
      // Orphan the children so they outlive the first CR, as they may while the collector is busy.
      await adminClients().custom.deleteNamespacedCustomObject({ group: 'groupsp.measutosh.dev', version: 'v1', plural: 'kindcustomhttps', namespace, name, propagationPolicy: 'Orphan' });
      await eventually('the first CR to be gone', async () => !(await getCr(namespace, name).catch(() => undefined)));

      const second = await createCr(namespace, name);
      await converge(namespace, name);

      const { deployment, service, configMap } = await readChildren(namespace, name);
      for (const child of [deployment, service, configMap]) {
        expect(child?.metadata?.ownerReferences?.map((o) => o.uid)).toEqual([second.metadata.uid]);
      }
      expect(second.metadata.uid).not.toBe(first.metadata.uid);
    });
  });

  describe('when the CR is being deleted', () => {
    it('leaves it and its children to the garbage collector', async () => {
      const name = 'finalized';
      await createCr(namespace, name);
      await patchCrMetadata(namespace, name, { finalizers: ['test.stimulated-peering.dev/hold'] });
      await deleteCr(namespace, name);

      const result = await converge(namespace, name);

      expect(result.outcome).toBe('deleting');
      expect(await readChildren(namespace, name)).toEqual({ deployment: undefined, service: undefined, configMap: undefined });
      await patchCrMetadata(namespace, name, { finalizers: null });
    });
  });

  describe('when reconciled concurrently', () => {
    it('ends 20 simultaneous reconciles of a new CR with no error and the right state', async () => {
      const name = 'concurrent';
      await createCr(namespace, name, { replicaCount: 3 });

      const results = await Promise.all(Array.from({ length: 20 }, () => converge(namespace, name)));

      expect(results.every((r) => r.outcome === 'converged')).toBe(true);
      const { deployment, service, configMap } = await readChildren(namespace, name);
      expect(deployment?.spec?.replicas).toBe(3);
      expect(service?.spec?.ports?.[0]?.port).toBe(80);
      expect(configMap?.data?.hostports).toBe('localhost,8080\n');
      const deployments = await apps.listNamespacedDeployment({ namespace, labelSelector: `app.kubernetes.io/instance=${name}` });
      expect(deployments.items).toHaveLength(1);
    });
  });
});
