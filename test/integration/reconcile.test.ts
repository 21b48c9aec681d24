// The reconcile core against the real control plane: create, update, drift, idempotence, what it
// costs in requests, deletion, status and concurrency. Every test arranges its own CR.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childKinds } from '../../functions/core/children.js';
import { reconcile } from '../../functions/core/reconciler.js';
import { adminClients, apiserverRequests, createNamespace, deleteNamespace, eventually, installCrd, kubectlOk, originalSample, uniqueName } from '../support/kube.js';
import {
  condition,
  createCr,
  deleteCr,
  getCr,
  operatorApi,
  orUndefined,
  patchCrMetadata,
  patchCrSpec,
  readChildren,
  reconcileUntilReady,
  resourceVersions,
  sampleKinds,
  silentLog,
  type SampleSpec,
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

/** A new CR, reconciled once: its children exist. */
async function converged(prefix: string, spec?: SampleSpec): Promise<string> {
  const name = uniqueName(prefix);
  await createCr(namespace, name, spec);
  await converge(namespace, name);
  return name;
}

const crEvents = async (name: string) =>
  (await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name},involvedObject.kind=KindCustomHttp` })).items;

describe('reconcile', () => {
  describe('when the original sample CR is applied with kubectl', () => {
    it('creates every child (Deployment, Service, ConfigMap, PodDisruptionBudget) with the right spec, owned by the CR', async () => {
      const sample = originalSample(namespace).replace('name: kindcustomhttp-sample', 'name: sample-created');
      await kubectlOk(['apply', '-f', '-'], sample);

      const result = await converge(namespace, 'sample-created');

      expect(result.outcome).toBe('converged');
      expect(result.changes.map((c) => `${c.action} ${c.kind}`).sort()).toEqual(['created ConfigMap', 'created Deployment', 'created PodDisruptionBudget', 'created Service']);
      const children = await readChildren(namespace, 'sample-created');
      const { Deployment: deployment, Service: service, ConfigMap: configMap } = children;
      expect(deployment?.spec?.replicas).toBe(2);
      expect(deployment?.spec?.template.spec?.containers[0]?.ports?.[0]?.containerPort).toBe(8080);
      expect(service?.spec?.ports?.[0]).toMatchObject({ port: 80, targetPort: 'http' });
      expect(configMap?.data).toEqual({ hostports: 'localhost,8080\n' });
      const cr = await getCr(namespace, 'sample-created');
      expect(Object.keys(children).sort()).toEqual([...childKinds].sort());
      for (const child of Object.values(children)) {
        expect(child?.metadata?.ownerReferences).toEqual([expect.objectContaining({ uid: cr.metadata.uid, controller: true, blockOwnerDeletion: true })]);
      }
    });

    it('reports Ready with 2 ready replicas and the pod selector once the pods are Ready', async () => {
      const name = await converged('sample-ready');

      await reconcileUntilReady(api, namespace, name);

      const cr = await getCr(namespace, name);
      expect(cr.status).toMatchObject({ observedGeneration: cr.metadata.generation, replicas: 2, readyReplicas: 2, selector: `app.kubernetes.io/name=http-server,app.kubernetes.io/instance=${name}` });
      expect(condition(cr, 'Ready')).toMatchObject({ status: 'True', reason: 'Available' });
      expect(condition(cr, 'Progressing')).toMatchObject({ status: 'False' });
      expect(condition(cr, 'Degraded')).toMatchObject({ status: 'False' });
    });
  });

  describe('what it costs', () => {
    it('creates a new CR’s children reading the CR and one object of each kind, creating each, and applying the status, with no Event', async () => {
      const name = uniqueName('cost-create');
      await createCr(namespace, name);
      const before = api.client.requestCount;

      await converge(namespace, name);

      expect(api.client.requestCount - before).toBe(1 + childKinds.length + sampleKinds().length + 1);
      expect(await crEvents(name)).toEqual([]);
    });

    it('reads the CR and one object of each kind, and writes nothing, when reconciled again unchanged: no apply reaches the apiserver', async () => {
      const name = await converged('cost-unchanged');
      await reconcileUntilReady(api, namespace, name);
      const versions = await resourceVersions(namespace, name);
      const [requestsBefore, appliesBefore] = [api.client.requestCount, await apiserverRequests({ verb: 'APPLY' })];

      const result = await converge(namespace, name);

      expect(result).toMatchObject({ outcome: 'converged', changes: [], statusUpdated: false });
      expect(api.client.requestCount - requestsBefore).toBe(1 + childKinds.length);
      expect((await apiserverRequests({ verb: 'APPLY' })) - appliesBefore).toBe(0);
      expect(await resourceVersions(namespace, name)).toEqual(versions);
    });
  });

  describe('when a spec field changes', () => {
    it('scales the Deployment to a new replicaCount, records an Event, and reports the new generation', async () => {
      const name = await converged('scale');

      await patchCrSpec(namespace, name, { replicaCount: 3 });
      const result = await converge(namespace, name);
      await reconcileUntilReady(api, namespace, name);

      expect(result.changes).toEqual([expect.objectContaining({ kind: 'Deployment', action: 'updated', fields: ['spec.replicas'] })]);
      expect((await readChildren(namespace, name)).Deployment?.spec?.replicas).toBe(3);
      expect((await crEvents(name)).map((e) => [e.reason, e.message])).toEqual([['Updated', `updated Deployment ${name} (spec.replicas)`]]);
      const cr = await getCr(namespace, name);
      expect(cr.status).toMatchObject({ observedGeneration: cr.metadata.generation, readyReplicas: 3 });
    });

    it('moves the Service to a new port', async () => {
      const name = await converged('port');

      await patchCrSpec(namespace, name, { port: 9090 });
      await converge(namespace, name);

      expect((await readChildren(namespace, name)).Service?.spec?.ports?.[0]?.port).toBe(9090);
    });

    it('rewrites the ConfigMap, dropping keys the CR no longer has, without rolling the pods', async () => {
      const name = await converged('config', { configMapData: { hostports: 'localhost,8080\n', 'old.txt': 'x' } });
      const templateBefore = (await readChildren(namespace, name)).Deployment?.spec?.template;

      await kubectlOk(['-n', namespace, 'patch', 'kch', name, '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/configMapData', value: { hostports: 'peer-a,8080\npeer-b,8080\n' } }])]);
      await converge(namespace, name);

      const { ConfigMap: configMap, Deployment: deployment } = await readChildren(namespace, name);
      expect(configMap?.data).toEqual({ hostports: 'peer-a,8080\npeer-b,8080\n' });
      expect(deployment?.spec?.template).toEqual(templateBefore);
    });

    it('rolls out a new image', async () => {
      const name = await converged('image');

      await patchCrSpec(namespace, name, { image: 'measutosh/http-server:v2' });
      await converge(namespace, name);

      expect((await readChildren(namespace, name)).Deployment?.spec?.template.spec?.containers[0]?.image).toBe('measutosh/http-server:v2');
    });

    it('takes resources written in any form without applying them again each time', async () => {
      const name = await converged('resources', { resources: { limits: { cpu: '0.5', memory: '1024Mi' } } });
      const appliesBefore = await apiserverRequests({ verb: 'APPLY', resource: 'deployments' });

      const again = await converge(namespace, name);

      expect(again.changes).toEqual([]);
      expect((await apiserverRequests({ verb: 'APPLY', resource: 'deployments' })) - appliesBefore).toBe(0);
      expect((await readChildren(namespace, name)).Deployment?.spec?.template.spec?.containers[0]?.resources?.limits).toEqual({ cpu: '500m', memory: '1Gi' });
    });
  });

  describe('when two CRs live in one namespace', () => {
    it('gives each its own pods and selects no pod of the other', async () => {
      const [a, b] = [uniqueName('peer-a'), uniqueName('peer-b')];
      await Promise.all([createCr(namespace, a, { replicaCount: 1 }), createCr(namespace, b, { replicaCount: 2 })]);
      await Promise.all([reconcileUntilReady(api, namespace, a), reconcileUntilReady(api, namespace, b)]);

      for (const [name, replicas] of [[a, 1], [b, 2]] as const) {
        const { Service: service } = await readChildren(namespace, name);
        const selector = Object.entries(service!.spec!.selector!).map(([k, v]) => `${k}=${v}`).join(',');
        const pods = await core.listNamespacedPod({ namespace, labelSelector: selector });
        expect(pods.items).toHaveLength(replicas);
        expect(pods.items.every((pod) => pod.metadata?.ownerReferences?.[0]?.name.startsWith(`${name}-`))).toBe(true);
        expect((await getCr(namespace, name)).status?.readyReplicas).toBe(replicas);
      }
    });
  });

  describe('when the children drift', () => {
    it('scales a Deployment scaled by hand back, and records an Event saying it repaired it', async () => {
      const name = await converged('drift-scale');

      await kubectlOk(['scale', '-n', namespace, 'deployment', name, '--replicas=5']);
      const result = await converge(namespace, name);

      expect(result.changes).toEqual([expect.objectContaining({ kind: 'Deployment', action: 'updated', fields: ['spec.replicas'] })]);
      expect((await readChildren(namespace, name)).Deployment?.spec?.replicas).toBe(2);
      expect((await crEvents(name)).map((e) => [e.reason, e.message])).toEqual([['Repaired', `updated Deployment ${name} (spec.replicas)`]]);
    });

    it('reverts an image edited by hand', async () => {
      const name = await converged('drift-image');

      await kubectlOk(['set', 'image', '-n', namespace, `deployment/${name}`, 'http-server=evil/image:1']);
      await converge(namespace, name);

      expect((await readChildren(namespace, name)).Deployment?.spec?.template.spec?.containers[0]?.image).toBe('measutosh/http-server');
    });

    it('reverts a ConfigMap edited by hand, stray keys included', async () => {
      const name = await converged('drift-config');

      await kubectlOk(['patch', '-n', namespace, 'configmap', `${name}-configmap`, '--type=merge', '-p', '{"data":{"hostports":"elsewhere,1\\n","extra":"y"}}']);
      await converge(namespace, name);

      expect((await readChildren(namespace, name)).ConfigMap?.data).toEqual({ hostports: 'localhost,8080\n' });
    });

    it('recreates a deleted Service', async () => {
      const name = await converged('drift-service');

      await core.deleteNamespacedService({ namespace, name });
      const result = await converge(namespace, name);

      expect(result.changes).toEqual([expect.objectContaining({ kind: 'Service', action: 'created' })]);
      expect((await readChildren(namespace, name)).Service?.spec?.ports?.[0]?.port).toBe(80);
    });

    it('keeps fields other managers own, such as an extra label, and writes nothing for them', async () => {
      const name = await converged('drift-label');

      await kubectlOk(['label', '-n', namespace, 'deployment', name, 'team=payments']);
      const result = await converge(namespace, name);

      expect(result.changes).toEqual([]);
      expect((await readChildren(namespace, name)).Deployment?.metadata?.labels?.team).toBe('payments');
    });
  });

  describe('when another manager replaced an entry of a keyed list (kubectl patch --type=json)', () => {
    /** A Ready CR whose child `resource`/`childName` had `path` replaced by hand, then one reconcile. */
    async function replacedByHand(prefix: string, resource: string, childName: (name: string) => string, path: string, value: unknown) {
      const name = await converged(prefix);
      await reconcileUntilReady(api, namespace, name);
      await kubectlOk(['patch', '-n', namespace, resource, childName(name), '--type=json', '-p', JSON.stringify([{ op: 'replace', path, value }])]);
      const edited = await readChildren(namespace, name);
      const result = await converge(namespace, name);
      return { name, result, edited };
    }

    /** The CR is Ready again, not Degraded, and one Event says what was repaired. */
    async function expectRepaired(name: string, message: string) {
      await reconcileUntilReady(api, namespace, name);
      const cr = await getCr(namespace, name);
      expect(condition(cr, 'Degraded')?.status).toBe('False');
      expect((await crEvents(name)).map((e) => [e.type, e.reason, e.message])).toEqual([['Normal', 'Repaired', message]]);
    }

    it('puts a Service port back, though server-side apply alone would add a second port named http (422)', async () => {
      const { name, result } = await replacedByHand('json-port', 'service', (name) => name, '/spec/ports/0/port', 9999);

      expect(result).toMatchObject({ outcome: 'converged', changes: [{ kind: 'Service', action: 'updated', fields: ['spec.ports'] }] });
      expect((await readChildren(namespace, name)).Service?.spec?.ports).toEqual([
        { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
        { name: 'http-original', port: 8080, targetPort: 'http', protocol: 'TCP' },
      ]);
      await expectRepaired(name, `updated Service ${name} (spec.ports)`);
    });

    it('puts a Deployment’s containerPort back', async () => {
      const { name, result } = await replacedByHand('json-container-port', 'deployment', (name) => name, '/spec/template/spec/containers/0/ports/0/containerPort', 9090);

      expect(result).toMatchObject({ outcome: 'converged', changes: [{ kind: 'Deployment', action: 'updated', fields: ['spec.template.spec.containers'] }] });
      const containers = (await readChildren(namespace, name)).Deployment?.spec?.template.spec?.containers;
      expect(containers?.map((c) => [c.name, c.ports])).toEqual([['http-server', [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]]]);
      await expectRepaired(name, `updated Deployment ${name} (spec.template.spec.containers)`);
    });

    it('puts a renamed container back, rather than run a second container beside it', async () => {
      const { name, result, edited } = await replacedByHand('json-container-name', 'deployment', (name) => name, '/spec/template/spec/containers/0/name', 'renamed');

      expect(result).toMatchObject({ outcome: 'converged', changes: [{ kind: 'Deployment', action: 'updated' }] });
      const deployment = (await readChildren(namespace, name)).Deployment;
      expect(deployment?.spec?.template.spec?.containers.map((c) => c.name)).toEqual(['http-server']);
      // One change of its spec: an apply first would have rolled out a pod of two containers (both on 8080) before any fix.
      expect(deployment?.metadata?.generation).toBe(edited.Deployment!.metadata!.generation! + 1);
      await expectRepaired(name, `updated Deployment ${name} (spec.template.spec.containers)`);
    });
  });

  describe('when the CR is deleted', () => {
    it('lets the garbage collector delete every child', async () => {
      const name = await converged('deleted');

      await deleteCr(namespace, name);
      const result = await converge(namespace, name);

      expect(result.outcome).toBe('not-found');
      await eventually('the children to be collected', async () => {
        return Object.keys(await readChildren(namespace, name)).length === 0;
      });
    });

    it('hands the children to a CR recreated with the same name', async () => {
      const name = uniqueName('reborn');
      const first = await createCr(namespace, name);
      await converge(namespace, name);
      // Orphan the children so they outlive the first CR, as they may while the collector is busy.
      await adminClients().custom.deleteNamespacedCustomObject({ group: 'groupsp.measutosh.dev', version: 'v1', plural: 'kindcustomhttps', namespace, name, propagationPolicy: 'Orphan' });
      await eventually('the first CR to be gone', async () => (await orUndefined(getCr(namespace, name))) === undefined);

      const second = await createCr(namespace, name);
      await converge(namespace, name);

      const { Deployment: deployment, Service: service, ConfigMap: configMap } = await readChildren(namespace, name);
      for (const child of [deployment, service, configMap]) {
        expect(child?.metadata?.ownerReferences?.map((o) => o.uid)).toEqual([second.metadata.uid]);
      }
      expect(second.metadata.uid).not.toBe(first.metadata.uid);
    });
  });

  describe('when the CR is being deleted', () => {
    it('leaves it and its children to the garbage collector', async () => {
      const name = uniqueName('finalized');
      await createCr(namespace, name);
      await patchCrMetadata(namespace, name, { finalizers: ['test.stimulated-peering.dev/hold'] });
      await deleteCr(namespace, name);

      const result = await converge(namespace, name);
      await patchCrMetadata(namespace, name, { finalizers: null });

      expect(result.outcome).toBe('deleting');
      expect(await readChildren(namespace, name)).toEqual({});
    });
  });

  describe('when reconciled concurrently', () => {
    it('ends 20 simultaneous reconciles of a new CR with no error and the right state', async () => {
      const name = uniqueName('concurrent');
      await createCr(namespace, name, { replicaCount: 3 });

      const results = await Promise.all(Array.from({ length: 20 }, () => converge(namespace, name)));

      expect(results.every((r) => r.outcome === 'converged')).toBe(true);
      const { Deployment: deployment, Service: service, ConfigMap: configMap } = await readChildren(namespace, name);
      expect(deployment?.spec?.replicas).toBe(3);
      expect(service?.spec?.ports?.[0]?.port).toBe(80);
      expect(configMap?.data?.hostports).toBe('localhost,8080\n');
      const deployments = await apps.listNamespacedDeployment({ namespace, labelSelector: `app.kubernetes.io/instance=${name}` });
      expect(deployments.items).toHaveLength(1);
    });
  });
});
