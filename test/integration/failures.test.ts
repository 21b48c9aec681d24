// Every failure has a visible home, through the reconcile function as deployed: a refusal no retry
// can fix is reported on the CR (Degraded with a precise reason, Ready=False, one Warning Event)
// and not retried; a namespace being deleted is the end, not an error; objects that are not ours
// are never taken over without being asked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADOPT_ANNOTATION } from '../../functions/core/drift.js';
import { loadHandlers, recordedEvent, sqsBatch, type Handler } from '../support/functions.js';
import { adminClients, createNamespace, deleteNamespace, eventually, installCrd, kubectl, kubectlOk, uniqueName } from '../support/kube.js';
import { condition, createCr, getCr, kindCustomHttp, orUndefined, readChildren, type SampleSpec } from '../support/operator.js';

const { core } = adminClients();
let reconcileHandler: Handler;
let namespace: string;

beforeAll(async () => {
  await installCrd();
  namespace = await createNamespace('failures');
  ({ reconcile: reconcileHandler } = await loadHandlers());
});
afterAll(() => deleteNamespace(namespace));

/** One delivery of a "created" event for the CR, as the queue hands it to the function. */
const deliver = (ns: string, name: string) => reconcileHandler(sqsBatch([recordedEvent('cr-created.json', ns, name)]));

const warnings = async (ns: string, name: string) =>
  (await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${name},type=Warning` })).items;

/** Delivered twice, the CR reports `reason` once; nothing is handed back to the queue. */
async function expectDegradedOnce(ns: string, name: string, reason: string) {
  const first = await deliver(ns, name);
  const again = await deliver(ns, name);

  expect(first).toEqual({ batchItemFailures: [] });
  expect(again).toEqual({ batchItemFailures: [] });
  const cr = await getCr(ns, name);
  expect(condition(cr, 'Degraded')).toMatchObject({ status: 'True', reason, observedGeneration: cr.metadata.generation });
  expect(condition(cr, 'Ready')).toMatchObject({ status: 'False', reason });
  expect((await warnings(ns, name)).map((event) => event.reason)).toEqual([reason]);
}

describe('a refusal no retry can fix', () => {
  it('reports an exceeded ResourceQuota as QuotaExceeded, and converges once the quota is raised', async () => {
    const ns = await createNamespace('quota');
    await core.createNamespacedResourceQuota({ namespace: ns, body: { metadata: { name: 'services' }, spec: { hard: { services: '0' } } } });
    await eventually('the quota to be counted', async () => (await core.readNamespacedResourceQuota({ namespace: ns, name: 'services' })).status?.hard?.services === '0');
    const name = uniqueName('quota');
    await createCr(ns, name, { replicaCount: 1 });

    await expectDegradedOnce(ns, name, 'QuotaExceeded');
    expect(condition(await getCr(ns, name), 'Degraded')?.message).toMatch(/exceeded quota/);

    await core.replaceNamespacedResourceQuota({ namespace: ns, name: 'services', body: { metadata: { name: 'services' }, spec: { hard: { services: '5' } } } });
    await eventually('the raised quota to be counted', async () => (await core.readNamespacedResourceQuota({ namespace: ns, name: 'services' })).status?.hard?.services === '5');
    await eventually(`${name} to be Ready`, async () => {
      await deliver(ns, name);
      return condition(await getCr(ns, name), 'Ready')?.status === 'True';
    });
    expect(condition(await getCr(ns, name), 'Degraded')).toMatchObject({ status: 'False' });
    await deleteNamespace(ns);
  });

  describe('when a ValidatingAdmissionPolicy refuses the Deployment', () => {
    const policy = uniqueName('no-big-deployments');

    beforeAll(async () => {
      await kubectlOk(['apply', '-f', '-'], JSON.stringify({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicy',
        metadata: { name: policy },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: { resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments'] }] },
          validations: [{ expression: 'object.spec.replicas <= 5', message: 'at most 5 replicas here' }],
        },
      }));
      await kubectlOk(['apply', '-f', '-'], JSON.stringify({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicyBinding',
        metadata: { name: policy },
        spec: { policyName: policy, validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } } },
      }));
      // The policy takes effect a moment after it is created.
      await eventually('the policy to refuse a probe', async () => (await kubectl(['-n', namespace, 'create', 'deployment', 'probe', '--image=x', '--replicas=9', '--dry-run=server'])).code !== 0);
    });
    afterAll(async () => {
      await kubectlOk(['delete', 'validatingadmissionpolicybinding', policy, '--ignore-not-found']);
      await kubectlOk(['delete', 'validatingadmissionpolicy', policy, '--ignore-not-found']);
    });

    it('reports AdmissionDenied with the policy’s message', async () => {
      const name = uniqueName('refused');
      await createCr(namespace, name, { replicaCount: 9 });

      await expectDegradedOnce(namespace, name, 'AdmissionDenied');
      expect(condition(await getCr(namespace, name), 'Degraded')?.message).toContain('at most 5 replicas here');
      expect((await readChildren(namespace, name)).Deployment).toBeUndefined();
    });
  });

  it('reports 4,000 bad hostports lines that pass the CRD as InvalidSpec, in a bounded message', async () => {
    const name = uniqueName('hostports');
    const hostports = Array.from({ length: 4000 }, (_, i) => `peer-${i},7${String(i).padStart(4, '0')}`).join('\n');
    await kubectlOk(['apply', '--server-side', '-f', '-'], JSON.stringify(kindCustomHttp(namespace, name, { configMapData: { hostports } })));

    await expectDegradedOnce(namespace, name, 'InvalidSpec');

    const message = condition(await getCr(namespace, name), 'Degraded')!.message;
    expect(message.length).toBeLessThan(2000);
    expect(message).toMatch(/line 1 "peer-0,70000".*; and 3990 more$/);
  });
});

describe('objects under the children’s names that are not ours', () => {
  const usersConfigMap = (name: string) => ({ metadata: { name: `${name}-configmap` }, data: { important: 'do not lose me', hostports: 'db,5432\n' } });
  const usersService = (name: string) => ({ metadata: { name }, spec: { ports: [{ port: 5432, protocol: 'TCP', targetPort: 5432 }], selector: { app: name } } });

  async function arrangeUsersObjects(spec?: SampleSpec & { annotations?: Record<string, string> }) {
    const name = uniqueName('taken');
    await core.createNamespacedConfigMap({ namespace, body: usersConfigMap(name) });
    await core.createNamespacedService({ namespace, body: usersService(name) });
    const before = await readChildren(namespace, name);
    const { annotations, ...crSpec } = spec ?? {};
    const cr = kindCustomHttp(namespace, name, crSpec);
    await kubectlOk(['apply', '-f', '-'], JSON.stringify({ ...cr, metadata: { ...cr.metadata, annotations } }));
    return { name, before };
  }

  it('leaves a user’s own ConfigMap and Service byte for byte as they were, and reports NameConflict naming them', async () => {
    const { name, before } = await arrangeUsersObjects();

    await expectDegradedOnce(namespace, name, 'NameConflict');

    const after = await readChildren(namespace, name);
    expect(after.ConfigMap).toEqual(before.ConfigMap);
    expect(after.Service).toEqual(before.Service);
    expect(after.Deployment).toBeUndefined();
    const message = condition(await getCr(namespace, name), 'Degraded')!.message;
    expect(message).toContain(`ConfigMap ${namespace}/${name}-configmap`);
    expect(message).toContain(`Service ${namespace}/${name}`);
    expect(message).toContain(ADOPT_ANNOTATION);
  });

  it('adopts them when the CR asks to, with the annotation', async () => {
    const { name } = await arrangeUsersObjects({ annotations: { [ADOPT_ANNOTATION]: 'true' } });

    expect(await deliver(namespace, name)).toEqual({ batchItemFailures: [] });

    const cr = await getCr(namespace, name);
    const { ConfigMap: configMap, Service: service } = await readChildren(namespace, name);
    expect(configMap?.data).toEqual({ hostports: 'localhost,8080\n' });
    expect(service?.spec?.selector).toEqual({ 'app.kubernetes.io/name': 'http-server', 'app.kubernetes.io/instance': name });
    for (const child of [configMap, service]) expect(child?.metadata?.ownerReferences?.[0]?.uid).toBe(cr.metadata.uid);
    expect(condition(cr, 'Degraded')).toMatchObject({ status: 'False' });
  });
});

describe('when the namespace is deleted with its CRs inside', () => {
  it('neither fails nor hands anything back to the queue while the namespace goes', async () => {
    const ns = await createNamespace('doomed');
    const names = ['one', 'two', 'three'];
    await Promise.all(names.map((name) => createCr(ns, name)));
    await Promise.all(names.map((name) => deliver(ns, name)));
    const batch = sqsBatch(names.flatMap((name) => [recordedEvent('cr-created.json', ns, name), recordedEvent('child-changed.json', ns, name)]));

    await core.deleteNamespace({ name: ns });
    const answers: unknown[] = [];
    await eventually(`namespace ${ns} to be gone`, async () => {
      answers.push(await reconcileHandler(batch));
      return (await orUndefined(core.readNamespace({ name: ns }))) === undefined;
    }, { timeoutMs: 120_000, intervalMs: 100 });

    expect(answers.length).toBeGreaterThan(1);
    expect(answers.every((answer) => JSON.stringify(answer) === JSON.stringify({ batchItemFailures: [] }))).toBe(true);
  });
});
