// infra/reconciler's ClusterRole against the real control plane: the reconcile and resync core,
// run as the functions' own identity (a user in the group the ClusterRoleBinding names, as the
// access entries make the functions' IAM roles on EKS), do their whole job under the RBAC and the
// admission policy the global setup installs, and everything else is refused.
import { AuthorizationV1Api, CoreV1Api, CustomObjectsApi, loadAllYaml, type V1ClusterRole, type V1ResourceAttributes } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, PLURAL, VERSION } from '../../functions/core/kindcustomhttp.js';
import { reconcile } from '../../functions/core/reconciler.js';
import { resync } from '../../functions/core/resync.js';
import { adminClients, createNamespace, deleteNamespace, installCrd, kubectlOk, originalSample, reconcilerConfig } from '../support/kube.js';
import { condition, createCr, getCr, missingChildren, operatorApi, reconcileUntilReady, sampleKinds, silentLog } from '../support/operator.js';

const CLUSTER_ROLE_PATH = new URL('../../infra/reconciler/clusterrole.yaml', import.meta.url).pathname;
const clusterRole = loadAllYaml(readFileSync(CLUSTER_ROLE_PATH, 'utf8'))[0] as V1ClusterRole;

const { core } = adminClients();
const asReconciler = reconcilerConfig();
const api = operatorApi();
let namespace: string;
let otherNamespace: string;

beforeAll(async () => {
  await installCrd();
  await kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', CLUSTER_ROLE_PATH]);
  [namespace, otherNamespace] = await Promise.all([createNamespace('rbac'), createNamespace('rbac-other')]);
});

afterAll(async () => {
  await Promise.all([deleteNamespace(namespace), deleteNamespace(otherNamespace)]);
});

/** Asks the API server, as the reconciler, whether it may do this. */
async function mayI(attributes: V1ResourceAttributes): Promise<boolean> {
  const review = await asReconciler.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: attributes } } });
  return review.status?.allowed === true;
}

function describeAttributes({ verb, group, resource, subresource }: V1ResourceAttributes): string {
  return `${verb} ${resource}${subresource ? `/${subresource}` : ''}${group ? `.${group}` : ''}`;
}

describe('the reconciler ClusterRole', () => {
  describe('when reconcile runs with it', () => {
    const name = 'kindcustomhttp-sample';

    beforeAll(async () => {
      await kubectlOk(['apply', '-f', '-'], originalSample(namespace));
    });

    it('creates the children, writes the status, repairs drift and records an Event for it', async () => {
      const first = await reconcile({ api, log: silentLog }, { namespace, name });
      await kubectlOk(['-n', namespace, 'scale', 'deployment', name, '--replicas=5']);
      const repair = await reconcile({ api, log: silentLog }, { namespace, name });
      await reconcileUntilReady(api, namespace, name);

      expect(first.outcome).toBe('converged');
      expect(first.changes.map((c) => `created ${c.kind}`).sort()).toEqual(sampleKinds().map((kind) => `created ${kind}`).sort());
      expect(first.changes.every((c) => c.action === 'created')).toBe(true);
      expect(repair.changes).toEqual([expect.objectContaining({ kind: 'Deployment', action: 'updated' })]);
      expect(await missingChildren(namespace, name)).toEqual([]);
      const cr = await getCr(namespace, name);
      expect(cr.status?.observedGeneration).toBe(cr.metadata.generation);
      expect(condition(cr, 'Ready')).toMatchObject({ status: 'True' });
      const events = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name},involvedObject.kind=KindCustomHttp` });
      expect(events.items.map((e) => e.reason)).toContain('Repaired');
    });

    it('deletes a child it has to replace', async () => {
      const configMap = await api.getChild('ConfigMap', namespace, `${name}-configmap`);

      await api.deleteChild('ConfigMap', namespace, `${name}-configmap`, configMap!.metadata!.uid!);

      expect(await api.getChild('ConfigMap', namespace, `${name}-configmap`)).toBeUndefined();
    });
  });

  describe('when resync runs with it', () => {
    beforeAll(async () => {
      await Promise.all([createCr(otherNamespace, 'first'), createCr(otherNamespace, 'second')]);
    });

    it('lists KindCustomHttps in every namespace', async () => {
      const seen: string[] = [];
      let continueToken: string | undefined;
      do {
        const page = await api.listKindCustomHttps({ limit: 100, continueToken });
        seen.push(...page.items.map((cr) => cr.metadata.namespace));
        continueToken = page.continueToken;
      } while (continueToken);

      // Other tests' CRs are listed too; ours must be among them.
      expect(seen.filter((ns) => ns === namespace)).toHaveLength(1);
      expect(seen.filter((ns) => ns === otherNamespace)).toHaveLength(2);
    });

    it('converges every KindCustomHttp, page by page', async () => {
      const report = await resync({ api, log: silentLog }, { namespaces: [otherNamespace], concurrency: 2, pageSize: 1, timeLeft: () => 60_000 });

      expect(report).toMatchObject({ checked: 2, drifted: 2, repaired: 2, failed: [], notReached: 0 });
      for (const name of ['first', 'second']) {
        expect(await missingChildren(otherNamespace, name)).toEqual([]);
        expect((await getCr(otherNamespace, name)).status?.observedGeneration).toBe(1);
      }
    });
  });

  describe('when asked what it may do', () => {
    // Every verb on every resource the ClusterRole names: each rule must take effect.
    const granted = clusterRole.rules!.flatMap((rule) =>
      rule.resources!.flatMap((path) =>
        rule.verbs.map((verb) => {
          const [resource, subresource] = path.split('/');
          return { verb, group: rule.apiGroups![0]!, resource: resource!, subresource };
        }),
      ),
    );

    it.each(granted.map((attributes) => [describeAttributes(attributes), attributes] as const))('allows %s in any namespace', async (_, attributes) => {
      expect(await mayI({ ...attributes, namespace: otherNamespace })).toBe(true);
    });

    const refused: V1ResourceAttributes[] = [
      { verb: 'get', resource: 'secrets' },
      { verb: 'list', resource: 'secrets' },
      { verb: 'watch', resource: 'secrets' },
      { verb: 'create', resource: 'secrets' },
      { verb: 'delete', resource: 'pods' },
      { verb: 'create', resource: 'pods' },
      { verb: 'create', resource: 'pods', subresource: 'exec' },
      { verb: 'create', resource: 'serviceaccounts', subresource: 'token' },
      { verb: 'delete', resource: 'namespaces' },
      { verb: 'delete', resource: 'events' },
      { verb: 'patch', resource: 'events' },
      { verb: 'create', group: GROUP, resource: PLURAL },
      { verb: 'delete', group: GROUP, resource: PLURAL },
      { verb: 'update', group: GROUP, resource: PLURAL },
      { verb: 'patch', group: GROUP, resource: PLURAL },
      { verb: 'deletecollection', group: GROUP, resource: PLURAL },
      { verb: 'create', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions' },
      { verb: 'update', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions' },
      { verb: 'delete', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions' },
      { verb: 'update', group: 'apps', resource: 'deployments', subresource: 'scale' },
      { verb: 'deletecollection', group: 'apps', resource: 'deployments' },
      { verb: 'create', group: 'apps', resource: 'daemonsets' },
      { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings' },
      { verb: 'bind', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
      { verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
    ];

    it.each(refused.map((attributes) => [describeAttributes(attributes), attributes] as const))('refuses %s', async (_, attributes) => {
      expect(await mayI({ ...attributes, namespace: otherNamespace })).toBe(false);
    });
  });

  describe('when it tries what it may not do', () => {
    it('gets 403 Forbidden reading Secrets', async () => {
      const error = await asReconciler.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace }).catch((e: unknown) => e);

      expect(error).toMatchObject({ code: 403 });
    });

    it('gets 403 Forbidden deleting a KindCustomHttp', async () => {
      const request = { group: GROUP, version: VERSION, plural: PLURAL, namespace, name: 'kindcustomhttp-sample' };
      const error = await asReconciler.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject(request).catch((e: unknown) => e);

      expect(error).toMatchObject({ code: 403 });
      expect(await getCr(namespace, 'kindcustomhttp-sample')).toBeDefined();
    });
  });
});
