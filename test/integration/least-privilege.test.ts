// What the functions' identity may do in the cluster, against the real API server, acting as that
// identity (group stimulated-peering:reconciler, under infra/reconciler's RBAC and admission
// policy, which the global setup installs): it writes only what it owns, however much its RBAC
// allows; CR authors get no image the operator does not allow; the pods pass the restricted Pod
// Security Standard; and in the namespaced mode it can neither reconcile nor list elsewhere.
import { loadAllYaml, type KubernetesObject, type V1Deployment } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL_MANAGED_BY, MANAGED_BY, childLabels, desiredDeployment } from '../../functions/core/desired.js';
import { defaultImagePolicy } from '../../functions/core/images.js';
import { ApiError, PatchType, type KubeClient } from '../../functions/core/kube-client.js';
import { reconcile, type OperatorSettings } from '../../functions/core/reconciler.js';
import { resync } from '../../functions/core/resync.js';
import { realNodeName, realNodeNamespace, requireRunning } from '../../infra/local/cluster/index.js';
import { peerServerImage, provideImage } from '../../infra/local/images/index.js';
import { adminClients, createNamespace, deleteNamespace, eventually, installCrd, kubectlOk, originalSample, reconcilerKubeClient, uniqueName } from '../support/kube.js';
import { condition, createCr, getCr, operatorApi, orUndefined, readChildren, silentLog } from '../support/operator.js';

const { core, apps, rbac } = adminClients();
const api = operatorApi();
const asFunctions: KubeClient = reconcilerKubeClient();
let namespace: string;

beforeAll(async () => {
  await installCrd();
  namespace = await createNamespace('least-privilege');
});
afterAll(() => deleteNamespace(namespace));

/** The refusal of `request`: its ApiError, or a failure of the test if it succeeded. */
async function refusal(request: Promise<unknown>): Promise<ApiError> {
  const outcome = await request.then(() => undefined, (error: unknown) => error);
  if (!(outcome instanceof ApiError)) throw new Error(`expected a refusal, got ${outcome === undefined ? 'success' : String(outcome)}`);
  return outcome;
}

const policyRefusal = { code: 403, message: expect.stringMatching(/ValidatingAdmissionPolicy 'stimulated-peering-reconciler'.* denied request/) };

const mergePatch = (path: string, body: object) => asFunctions.request(path, { method: 'PATCH', body, contentType: PatchType.merge });

// The admission policy matches only the resources the functions' ClusterRole lets them write; every
// other write must be refused by RBAC, before admission runs.
describe('the functions’ RBAC, for writes outside the children’s kinds', () => {
  it.each([
    ['a Pod', () => `/api/v1/namespaces/${namespace}/pods`, { metadata: { name: 'intruder' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } }, 'create resource "pods"'],
    ['a Secret', () => `/api/v1/namespaces/${namespace}/secrets`, { metadata: { name: 'intruder' }, stringData: { token: 'x' } }, 'create resource "secrets"'],
    ['a RoleBinding', () => `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`, { metadata: { name: 'intruder' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' }, subjects: [{ kind: 'Group', name: 'stimulated-peering:reconciler' }] }, 'create resource "rolebindings"'],
    ['a KindCustomHttp', () => `/apis/groupsp.measutosh.dev/v1/namespaces/${namespace}/kindcustomhttps`, { apiVersion: 'groupsp.measutosh.dev/v1', kind: 'KindCustomHttp', metadata: { name: 'intruder' }, spec: {} }, 'create resource "kindcustomhttps"'],
  ])('refuses creating %s with 403 from RBAC', async (_, path, body, refused) => {
    const error = await refusal(asFunctions.request(path(), { method: 'POST', body }));

    expect(error.code).toBe(403);
    expect(error.message).toContain(`cannot ${refused}`);
    expect(error.message).not.toContain('ValidatingAdmissionPolicy');
  });
});

describe('the admission policy, for the functions’ identity', () => {
  describe('when it patches kube-system/aws-auth', () => {
    let created = false;

    beforeAll(async () => {
      // aws-auth as EKS keeps it (honoured in API_AND_CONFIG_MAP mode): who is system:masters.
      const body = { metadata: { name: 'aws-auth' }, data: { mapRoles: '- rolearn: arn:aws:iam::111122223333:role/nodes\n  groups: [system:nodes]\n' } };
      created = await core.createNamespacedConfigMap({ namespace: 'kube-system', body }).then(() => true, () => false);
    });
    afterAll(async () => {
      if (created) await core.deleteNamespacedConfigMap({ namespace: 'kube-system', name: 'aws-auth' });
    });

    it('is refused with 403 by the policy (RBAC alone would allow it), and aws-auth is unchanged', async () => {
      const before = await core.readNamespacedConfigMap({ namespace: 'kube-system', name: 'aws-auth' });
      const escalation = { data: { mapRoles: `${before.data?.mapRoles ?? ''}- rolearn: arn:aws:iam::111122223333:role/stolen\n  groups: [system:masters]\n` } };

      const error = await refusal(mergePatch('/api/v1/namespaces/kube-system/configmaps/aws-auth', escalation));

      expect(error).toMatchObject(policyRefusal);
      expect(error.message).toContain('write nothing in namespace kube-system');
      expect((await core.readNamespacedConfigMap({ namespace: 'kube-system', name: 'aws-auth' })).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    });
  });

  describe('when it writes a user’s ConfigMap that is not the operator’s', () => {
    const name = 'users-settings';

    beforeAll(async () => {
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name }, data: { database: 'db:5432' } } });
    });

    it('is refused with 403, and the ConfigMap is unchanged', async () => {
      const before = await core.readNamespacedConfigMap({ namespace, name });

      const error = await refusal(mergePatch(`/api/v1/namespaces/${namespace}/configmaps/${name}`, { data: { database: 'attacker:5432' } }));

      expect(error).toMatchObject(policyRefusal);
      expect(await core.readNamespacedConfigMap({ namespace, name })).toEqual(before);
    });

    it('is refused too when the patch would label it and give it a KindCustomHttp owner (no takeover by patch)', async () => {
      const cr = await createCr(namespace, uniqueName('owner'));
      const takeover = { metadata: { labels: childLabels(cr.metadata.name), ownerReferences: [{ apiVersion: cr.apiVersion, kind: cr.kind, name: cr.metadata.name, uid: cr.metadata.uid, controller: true }] } };

      const error = await refusal(mergePatch(`/api/v1/namespaces/${namespace}/configmaps/${name}`, takeover));

      expect(error).toMatchObject(policyRefusal);
      expect((await core.readNamespacedConfigMap({ namespace, name })).metadata?.labels).toBeUndefined();
    });
  });

  describe('when it creates a Deployment', () => {
    /** The Deployment a reconcile would make for a CR of this name, with `change` made to it. */
    async function deploymentOf(change: (deployment: V1Deployment) => void): Promise<V1Deployment> {
      const cr = await createCr(namespace, uniqueName('deployment'));
      const deployment = desiredDeployment(cr, { replicaCount: 1, port: 80, configMapData: {}, containerPort: 8080, image: defaultImagePolicy.defaultImage });
      change(deployment);
      return deployment;
    }
    const create = (deployment: V1Deployment) => asFunctions.request(`/apis/apps/v1/namespaces/${namespace}/deployments`, { method: 'POST', body: deployment });

    it('refuses one carrying the operator’s labels but no ownerReference to a KindCustomHttp', async () => {
      const deployment = await deploymentOf((d) => delete d.metadata!.ownerReferences);

      const error = await refusal(create(deployment));

      expect(error).toMatchObject(policyRefusal);
      expect(deployment.metadata?.labels?.[LABEL_MANAGED_BY]).toBe(MANAGED_BY);
      expect(await orUndefined(apps.readNamespacedDeployment({ namespace, name: deployment.metadata!.name! }))).toBeUndefined();
    });

    it.each([
      ['runs as a ServiceAccount', (d: V1Deployment) => void (d.spec!.template.spec!.serviceAccountName = 'builder')],
      ['mounts a ServiceAccount token', (d: V1Deployment) => void (d.spec!.template.spec!.automountServiceAccountToken = true)],
      ['mounts a Secret', (d: V1Deployment) => void d.spec!.template.spec!.volumes!.push({ name: 'keys', secret: { secretName: 'keys' } })],
      ['shares the host network', (d: V1Deployment) => void (d.spec!.template.spec!.hostNetwork = true)],
      ['may run as root', (d: V1Deployment) => void (d.spec!.template.spec!.securityContext = { runAsUser: 0 })],
      ['may escalate privileges', (d: V1Deployment) => void (d.spec!.template.spec!.containers[0]!.securityContext = { allowPrivilegeEscalation: true })],
    ])('refuses an owned, labelled one whose pod %s', async (_, change) => {
      const error = await refusal(create(await deploymentOf(change)));

      expect(error).toMatchObject(policyRefusal);
      expect(error.message).toContain('hardened pods');
    });

    it('accepts the one a reconcile makes', async () => {
      const deployment = await deploymentOf(() => {});

      await create(deployment);

      expect(await apps.readNamespacedDeployment({ namespace, name: deployment.metadata!.name! })).toBeDefined();
    });
  });

  it('refuses an Event about anything but a KindCustomHttp', async () => {
    const body = { metadata: { name: uniqueName('event') }, involvedObject: { kind: 'Pod', name: 'x', namespace, apiVersion: 'v1' }, reason: 'Spoofed', message: 'x', type: 'Normal' };

    const error = await refusal(asFunctions.request(`/api/v1/namespaces/${namespace}/events`, { method: 'POST', body }));

    expect(error).toMatchObject(policyRefusal);
  });

  it('refuses deleting an object another controller owns', async () => {
    const owner = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: uniqueName('owner') } } });
    const name = `${uniqueName('owned')}-configmap`;
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name, ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: owner.metadata!.name!, uid: owner.metadata!.uid!, controller: true }] } } });

    const error = await refusal(asFunctions.request(`/api/v1/namespaces/${namespace}/configmaps/${name}`, { method: 'DELETE' }));

    expect(error).toMatchObject(policyRefusal);
    expect(await core.readNamespacedConfigMap({ namespace, name })).toBeDefined();
  });
});

describe('a CR naming an image the operator does not allow', () => {
  it('is Degraded with ImageNotAllowed and one Warning, however often it is reconciled, and nothing is written', async () => {
    const name = uniqueName('image');
    await createCr(namespace, name, { image: 'attacker/miner:latest' });

    const results = [await reconcile({ api, log: silentLog }, { namespace, name }), await reconcile({ api, log: silentLog }, { namespace, name })];

    expect(results.map((r) => [r.outcome, r.reason])).toEqual([['degraded', 'ImageNotAllowed'], ['degraded', 'ImageNotAllowed']]);
    const cr = await getCr(namespace, name);
    expect(condition(cr, 'Degraded')).toMatchObject({ status: 'True', reason: 'ImageNotAllowed', message: expect.stringContaining('"attacker/miner:latest" is not allowed') });
    expect(condition(cr, 'Ready')).toMatchObject({ status: 'False', reason: 'ImageNotAllowed' });
    expect(await readChildren(namespace, name)).toEqual({});
    const warnings = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name},type=Warning` });
    expect(warnings.items.map((e) => e.reason)).toEqual(['ImageNotAllowed']);
  });

  it('gets the operator’s DEFAULT_IMAGE when it names none', async () => {
    const name = uniqueName('default-image');
    await createCr(namespace, name);
    const settings: OperatorSettings = { images: { ...defaultImagePolicy, defaultImage: 'stimulated-peering/peer-server:0.1.0' }, namespaces: [] };

    await reconcile({ api, log: silentLog, settings }, { namespace, name });

    expect((await getCr(namespace, name)).spec).not.toHaveProperty('image');
    expect((await readChildren(namespace, name)).Deployment?.spec?.template.spec?.containers[0]?.image).toBe('stimulated-peering/peer-server:0.1.0');
  });
});

describe('in a namespace that enforces the restricted Pod Security Standard', () => {
  let restricted: string;

  beforeAll(async () => {
    // On the real node, with the project's peer server image there (the local default image, which
    // runs as uid 1000): the pods start under the restricted profile and pass their probes.
    await provideImage(requireRunning(), peerServerImage);
    restricted = uniqueName('restricted');
    await core.createNamespace({ body: realNodeNamespace(restricted, { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' }) });
  });
  afterAll(() => deleteNamespace(restricted));

  it('admits the sample CR’s pods and runs them on the real node: the ReplicaSet creates them all, with no FailedCreate, and they become Ready', async () => {
    const settings: OperatorSettings = { images: { ...defaultImagePolicy, defaultImage: 'stimulated-peering/peer-server:0.1.0' }, namespaces: [] };
    await kubectlOk(['apply', '-f', '-'], originalSample(restricted));

    await eventually('the sample to be Ready', async () => (await reconcile({ api, log: silentLog, settings }, { namespace: restricted, name: 'kindcustomhttp-sample' })).ready, { timeoutMs: 120_000, intervalMs: 500 });

    const pods = await core.listNamespacedPod({ namespace: restricted, labelSelector: 'app.kubernetes.io/instance=kindcustomhttp-sample' });
    expect(pods.items).toHaveLength(2);
    for (const pod of pods.items) {
      expect(pod.spec?.nodeName).toBe(realNodeName);
      expect(pod.status?.containerStatuses?.[0]).toMatchObject({ ready: true, restartCount: 0 });
    }
    const failures = await core.listNamespacedEvent({ namespace: restricted, fieldSelector: 'reason=FailedCreate' });
    expect(failures.items).toEqual([]);
    // A pod the restricted profile would refuse, to show it is enforced here.
    const refused = await core.createNamespacedPod({ namespace: restricted, body: { metadata: { name: 'root' }, spec: { containers: [{ name: 'c', image: 'x' }] } } }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 403 });
  });
});

describe('the namespaced mode (infra/namespaced)', () => {
  const NAMESPACED = new URL('../../infra/namespaced/namespaces.yaml', import.meta.url).pathname;
  const CLUSTER_BINDING = new URL('../../infra/reconciler/clusterrolebinding.yaml', import.meta.url).pathname;
  let served: string;
  let elsewhere: string;
  let settings: OperatorSettings;

  beforeAll(async () => {
    [served, elsewhere] = await Promise.all([createNamespace('served'), createNamespace('elsewhere')]);
    settings = { images: defaultImagePolicy, namespaces: [served] };
    // The component's bindings for the functions, moved to the served namespace, in place of the cluster-wide one.
    const bindings = (loadAllYaml(readFileSync(NAMESPACED, 'utf8')) as KubernetesObject[]).filter((o) => o.metadata?.name === 'stimulated-peering:reconciler');
    await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: bindings.map((b) => ({ ...b, metadata: { ...b.metadata, namespace: served } })) }));
    await rbac.deleteClusterRoleBinding({ name: 'stimulated-peering:reconciler' });
    await eventually('the cluster-wide binding to be gone for the functions', async () => (await asFunctions.request(`/api/v1/namespaces/${elsewhere}/configmaps`).then(() => false, (e: unknown) => e instanceof ApiError && e.code === 403)));
    await Promise.all([createCr(served, 'here'), createCr(elsewhere, 'there')]);
  });
  afterAll(async () => {
    await kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', CLUSTER_BINDING]);
    await Promise.all([deleteNamespace(served), deleteNamespace(elsewhere)]);
  });

  it('reconciles a CR in a namespace it serves', async () => {
    const result = await reconcile({ api, log: silentLog, settings }, { namespace: served, name: 'here' });

    expect(result.outcome).toBe('converged');
    expect((await readChildren(served, 'here')).Deployment).toBeDefined();
  });

  it('leaves a CR in another namespace alone, writing nothing', async () => {
    const result = await reconcile({ api, log: silentLog, settings }, { namespace: elsewhere, name: 'there' });

    expect(result.outcome).toBe('out-of-scope');
    expect(await readChildren(elsewhere, 'there')).toEqual({});
    expect((await getCr(elsewhere, 'there')).status).toBeUndefined();
  });

  it('resyncs only the namespaces it serves, even when asked for all of them', async () => {
    const report = await resync({ api, log: silentLog, settings }, { pageSize: 500, concurrency: 2, timeLeft: () => 60_000 });

    expect(report).toMatchObject({ checked: 1, failed: [] });
    expect(await readChildren(elsewhere, 'there')).toEqual({});
  });

  it.each([
    ['KindCustomHttps in another namespace', () => `/apis/groupsp.measutosh.dev/v1/namespaces/${elsewhere}/kindcustomhttps`],
    ['Deployments in another namespace', () => `/apis/apps/v1/namespaces/${elsewhere}/deployments`],
    ['ConfigMaps in every namespace', () => '/api/v1/configmaps'],
  ])('gives the functions’ identity 403 listing %s', async (_, path) => {
    const error = await refusal(asFunctions.request(path()));

    expect(error).toMatchObject({ code: 403, message: expect.stringMatching(/cannot list resource/) });
  });
});
