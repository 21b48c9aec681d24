// Clusters moving from the original Go operator: its schema-less CRD may still be installed, so
// invalid specs reach the functions; and its children exist, unowned, with a shared selector.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcile } from '../../functions/core/reconciler.js';
import { adminClients, createNamespace, deleteNamespace, installCrd, kubectlOk, ORIGINAL_CRD_PATH } from '../support/kube.js';
import { condition, createCr, getCr, operatorApi, readChildren, silentLog } from '../support/operator.js';

const api = operatorApi();
const { apps, core } = adminClients();
const converge = (namespace: string, name: string) => reconcile({ api, log: silentLog }, { namespace, name });
const invalidSpec = { port: 70000, replicaCount: -1, configMapData: { hostports: 'nonsense\n' } };
let namespace: string;

async function warningEvents(name: string) {
  const events = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name},type=Warning` });
  return events.items;
}

beforeAll(async () => {
  namespace = await createNamespace('migration');
});
afterAll(async () => {
  await installCrd();
  await deleteNamespace(namespace);
});

describe('with the original CRD still installed', () => {
  beforeAll(async () => {
    await kubectlOk(['replace', '-f', ORIGINAL_CRD_PATH]);
    await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/kindcustomhttps.groupsp.measutosh.dev']);
  });

  it('converges the original sample spec, filling in the defaults the old schema lacks', async () => {
    await createCr(namespace, 'legacy-valid');
    const result = await converge(namespace, 'legacy-valid');
    expect(result.outcome).toBe('converged');
    const { Deployment: deployment } = await readChildren(namespace, 'legacy-valid');
    expect(deployment?.spec?.template.spec?.containers[0]).toMatchObject({ image: 'measutosh/http-server', ports: [{ containerPort: 8080 }] });
  });

  describe('when a CR has an invalid spec', () => {
    const name = 'legacy-invalid';

    it('gives up without an error, creates nothing, and records a Warning naming every problem', async () => {
      await createCr(namespace, name, invalidSpec);

      const result = await converge(namespace, name);

      expect(result).toMatchObject({ outcome: 'degraded', reason: 'InvalidSpec' });
      expect(result.message).toMatch(/spec\.replicaCount.*spec\.port.*spec\.configMapData\.hostports/);
      expect(await readChildren(namespace, name)).toEqual({});
      const warnings = await warningEvents(name);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ reason: 'InvalidSpec' });
    });

    it('records no further Warning when the same invalid spec is reconciled again', async () => {
      await converge(namespace, name);
      await converge(namespace, name);
      expect(await warningEvents(name)).toHaveLength(1);
    });
  });
});

describe('after upgrading to the new CRD', () => {
  beforeAll(() => installCrd());

  it('reports an invalid CR stored under the old CRD as Degraded', async () => {
    const result = await converge(namespace, 'legacy-invalid');

    expect(result).toMatchObject({ outcome: 'degraded', reason: 'InvalidSpec' });
    const cr = await getCr(namespace, 'legacy-invalid');
    expect(condition(cr, 'Degraded')).toMatchObject({ status: 'True', reason: 'InvalidSpec' });
    expect(condition(cr, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(cr.status?.observedGeneration).toBe(cr.metadata.generation);
  });

  it('takes over children the original operator made, replacing its shared pod selector', async () => {
    const name = 'adopted';
    // What the Go operator created: no labels, no owner, every CR's pods under one shared selector,
    // a headless Service to port 80, the CR's configMapData as it was then.
    const legacyLabels = { app: 'measutosh-http-server' };
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name },
        spec: {
          replicas: 1,
          selector: { matchLabels: legacyLabels },
          template: {
            metadata: { labels: legacyLabels },
            spec: {
              containers: [{ name: 'http-go-server-pod', image: 'measutosh/http-server', ports: [{ containerPort: 80, name: 'http', protocol: 'TCP' }], volumeMounts: [{ name: 'config-volume', mountPath: '/config' }] }],
              volumes: [{ name: 'config-volume', configMap: { name: `${name}-configmap` } }],
            },
          },
        },
      },
    });
    await core.createNamespacedService({ namespace, body: { metadata: { name }, spec: { selector: legacyLabels, clusterIP: 'None', ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 80 }] } } });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: `${name}-configmap` }, data: { hostports: 'old,1\n', stale: 'x' } } });

    const cr = await createCr(namespace, name);
    const result = await converge(namespace, name);

    // The original operator made no PodDisruptionBudget: its CR gets a new one.
    expect(result.changes.map((c) => `${c.action} ${c.kind}`).sort()).toEqual(['adopted ConfigMap', 'adopted Deployment', 'adopted Service', 'created PodDisruptionBudget']);
    const { Deployment: deployment, Service: service, ConfigMap: configMap } = await readChildren(namespace, name);
    expect(deployment?.spec?.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'http-server', 'app.kubernetes.io/instance': name });
    expect(service?.spec?.ports?.[0]?.targetPort).toBe('http');
    expect(service?.spec?.selector).toEqual(deployment?.spec?.selector.matchLabels);
    expect(configMap?.data).toEqual({ hostports: 'localhost,8080\n' });
    for (const child of [deployment, service, configMap]) expect(child?.metadata?.ownerReferences?.[0]?.uid).toBe(cr.metadata.uid);
  });
});
