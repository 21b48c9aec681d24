// The local control plane behaves as a real cluster: the controllers, the scheduler, KWOK's
// fake node, the garbage collector, CRDs and RBAC all do their part.
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClients, createNamespace, deleteNamespace, eventually, kubectlOk, restrictedIdentity } from '../support/kube.js';


let namespace: string;
const { core, apps, custom } = adminClients();

beforeAll(async () => {
  namespace = await createNamespace('control-plane');
});
afterAll(async () => {
  await kubectlOk(['delete', 'crd', 'widgets.test.stimulated-peering.dev', '--ignore-not-found']);
  await deleteNamespace(namespace);
});

describe('the local control plane', () => {
  it('runs a Deployment applied with kubectl as Running, Ready pods with IPs', async () => {
    const manifest = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } },
      },
    };
    await kubectlOk(['apply', '-f', '-'], JSON.stringify(manifest));

    const deployment = await eventually('the Deployment to report 2 ready replicas', async () => {
      const d = await apps.readNamespacedDeployment({ namespace, name: 'web' });
      return d.status?.readyReplicas === 2 ? d : undefined;
    });
    expect(deployment.status?.availableReplicas).toBe(2);

    const replicaSets = await apps.listNamespacedReplicaSet({ namespace, labelSelector: 'app=web' });
    expect(replicaSets.items).toHaveLength(1);
    expect(replicaSets.items[0]!.metadata!.ownerReferences![0]!.name).toBe('web');

    const pods = await core.listNamespacedPod({ namespace, labelSelector: 'app=web' });
    expect(pods.items).toHaveLength(2);
    for (const pod of pods.items) {
      expect(pod.status?.phase).toBe('Running');
      expect(pod.status?.podIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(pod.spec?.nodeName).toBeTruthy();
    }
  });

  it('deletes objects whose owner is deleted (garbage collector)', async () => {
    const owner = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'owner' } } });
    await core.createNamespacedConfigMap({
      namespace,
      body: {
        metadata: {
          name: 'dependent',
          ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid!, blockOwnerDeletion: true }],
        },
      },
    });

    await core.deleteNamespacedConfigMap({ namespace, name: 'owner' });

    await eventually('the dependent ConfigMap to be collected', async () => {
      const list = await core.listNamespacedConfigMap({ namespace, fieldSelector: 'metadata.name=dependent' });
      return list.items.length === 0;
    });
  });

  it('serves a CRD applied with kubectl, and round-trips a custom resource through its status subresource', async () => {
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.test.stimulated-peering.dev' },
      spec: {
        group: 'test.stimulated-peering.dev',
        names: { kind: 'Widget', plural: 'widgets', singular: 'widget', listKind: 'WidgetList' },
        scope: 'Namespaced',
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            subresources: { status: {} },
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: {
                  spec: { type: 'object', properties: { size: { type: 'integer' } } },
                  status: { type: 'object', properties: { seen: { type: 'integer' } } },
                },
              },
            },
          },
        ],
      },
    };
    await kubectlOk(['apply', '-f', '-'], JSON.stringify(crd));
    await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/widgets.test.stimulated-peering.dev']);
    const ref = { group: 'test.stimulated-peering.dev', version: 'v1', plural: 'widgets', namespace };

    await eventually('the Widget API to accept objects', () =>
      custom.createNamespacedCustomObject({ ...ref, body: { apiVersion: 'test.stimulated-peering.dev/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { size: 3 }, status: { seen: 99 } } }),
    );
    const created = (await custom.getNamespacedCustomObject({ ...ref, name: 'w' })) as { metadata: { resourceVersion: string }; status?: { seen?: number } };
    // The main resource ignores status; only the subresource writes it.
    expect(created.status).toBeUndefined();

    await custom.replaceNamespacedCustomObjectStatus({
      ...ref,
      name: 'w',
      body: { apiVersion: 'test.stimulated-peering.dev/v1', kind: 'Widget', metadata: { name: 'w', resourceVersion: created.metadata.resourceVersion }, spec: { size: 1000 }, status: { seen: 3 } },
    });
    const updated = (await custom.getNamespacedCustomObject({ ...ref, name: 'w' })) as { spec: { size: number }; status: { seen: number } };
    expect(updated.status.seen).toBe(3);
    expect(updated.spec.size).toBe(3);
  });

  it('refuses a restricted identity what its Role does not grant', async () => {
    const { config } = await restrictedIdentity(namespace, [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }]);
    const restricted = config.makeApiClient(CoreV1Api);

    await expect(restricted.listNamespacedConfigMap({ namespace })).resolves.toBeDefined();
    const refused = await restricted.listNamespacedSecret({ namespace }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiException);
    expect((refused as ApiException<unknown>).code).toBe(403);
    const refusedWrite = await restricted.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'nope' } } }).catch((error: unknown) => error);
    expect((refusedWrite as ApiException<unknown>).code).toBe(403);
  });
});
