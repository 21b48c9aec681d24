// The CRD against the real apiserver: every spec the original operator accepted still applies
// and converges, hostports is checked at apply time as far as the CEL budget allows (and by the
// reconcile beyond), and the scale subresource serves kubectl scale and autoscalers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcile } from '../../functions/core/reconciler.js';
import { createNamespace, deleteNamespace, installCrd, kubectl, kubectlOk, uniqueName } from '../support/kube.js';
import { condition, createCr, getCr, kindCustomHttp, operatorApi, readChildren, reconcileUntilReady, silentLog } from '../support/operator.js';

const api = operatorApi();
const converge = (namespace: string, name: string) => reconcile({ api, log: silentLog }, { namespace, name });
let namespace: string;

beforeAll(async () => {
  await installCrd();
  namespace = await createNamespace('crd');
});
afterAll(() => deleteNamespace(namespace));

const peers = (count: number) => Array.from({ length: count }, (_, i) => `peer-${i}.peers.svc.cluster.local,${8000 + (i % 1000)}`).join('\n') + '\n';

/** `kubectl apply` of a CR with this spec; its result, not thrown. */
function applyCr(name: string, spec: Record<string, unknown>) {
  return kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(kindCustomHttp(namespace, name, spec)));
}

describe('the KindCustomHttp CRD', () => {
  describe('accepts what the original CRD accepted', () => {
    it('applies replicaCount 150 and converges the Deployment to it', async () => {
      const name = uniqueName('many');

      expect(await applyCr(name, { replicaCount: 150 })).toMatchObject({ code: 0 });
      await converge(namespace, name);

      expect((await readChildren(namespace, name)).Deployment?.spec?.replicas).toBe(150);
    });

    it('applies a 600 KB configMapData value beside other keys and converges the ConfigMap to it', async () => {
      const name = uniqueName('big');
      const configMapData = { 'notes.txt': 'n'.repeat(600_000), hostports: 'localhost,8080\n', ...Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`extra-${i}`, `${i}`])) };

      expect(await applyCr(name, { configMapData })).toMatchObject({ code: 0 });
      const result = await converge(namespace, name);

      expect(result.outcome).toBe('converged');
      expect((await readChildren(namespace, name)).ConfigMap?.data).toEqual(configMapData);
    });

    it('applies a hostports of 5,000 peers', async () => {
      const name = uniqueName('peers');

      const applied = await applyCr(name, { configMapData: { hostports: peers(5000) } });

      expect(applied).toMatchObject({ code: 0 });
      expect(await converge(namespace, name)).toMatchObject({ outcome: 'converged' });
    });
  });

  describe('checks hostports', () => {
    it('refuses a bad line at apply time while the file is within the CEL budget', async () => {
      const applied = await applyCr(uniqueName('bad'), { configMapData: { hostports: `${peers(6000)}not a peer\n` } });

      expect(applied.code).not.toBe(0);
      expect(applied.stderr).toContain('every line of hostports must be host,port');
    });

    it('leaves a port above 65535 in a file CEL checks to the reconcile, which reports it', async () => {
      const name = uniqueName('port');
      expect(await applyCr(name, { configMapData: { hostports: 'peer,70000\n' } })).toMatchObject({ code: 0 });

      await converge(namespace, name);

      expect(condition(await getCr(namespace, name), 'Degraded')).toMatchObject({ reason: 'InvalidSpec', message: expect.stringContaining('line 1 "peer,70000"') });
    });

    it('reports a bad line in a file too large for CEL as Degraded/InvalidSpec naming the line', async () => {
      const name = uniqueName('huge');
      const hostports = `${peers(9000)}peer-x,99999\n`;
      expect(hostports.length).toBeGreaterThan(262_144);
      expect(await applyCr(name, { configMapData: { hostports } })).toMatchObject({ code: 0 });

      const result = await converge(namespace, name);

      expect(result).toMatchObject({ outcome: 'degraded', reason: 'InvalidSpec' });
      const degraded = condition(await getCr(namespace, name), 'Degraded');
      expect(degraded).toMatchObject({ status: 'True', reason: 'InvalidSpec' });
      expect(degraded?.message).toContain('line 9001 "peer-x,99999"');
      expect((await readChildren(namespace, name)).Deployment).toBeUndefined();
    });
  });

  describe('the scale subresource', () => {
    it('lets kubectl scale change the replica count, which the Deployment and the status follow', async () => {
      const name = uniqueName('scaled');
      await createCr(namespace, name, { replicaCount: 1 });
      await reconcileUntilReady(api, namespace, name);

      await kubectlOk(['-n', namespace, 'scale', `kch/${name}`, '--replicas=3']);
      await reconcileUntilReady(api, namespace, name);

      expect((await getCr(namespace, name)).spec).toMatchObject({ replicaCount: 3 });
      expect((await readChildren(namespace, name)).Deployment?.spec?.replicas).toBe(3);
      expect((await getCr(namespace, name)).status).toMatchObject({ replicas: 3, readyReplicas: 3 });
    });

    it('answers GET /scale with the replica count and the pods selector', async () => {
      const name = uniqueName('scale');
      await createCr(namespace, name, { replicaCount: 2 });
      await converge(namespace, name);

      const scale = JSON.parse(await kubectlOk(['get', '--raw', `/apis/groupsp.measutosh.dev/v1/namespaces/${namespace}/kindcustomhttps/${name}/scale`]));

      expect(scale).toMatchObject({ kind: 'Scale', spec: { replicas: 2 }, status: { selector: `app.kubernetes.io/name=http-server,app.kubernetes.io/instance=${name}` } });
    });

    it('accepts an autoscaling/v2 HorizontalPodAutoscaler targeting a KindCustomHttp', async () => {
      const name = uniqueName('hpa');
      await createCr(namespace, name, { replicaCount: 1 });
      const hpa = {
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        metadata: { name, namespace },
        spec: {
          scaleTargetRef: { apiVersion: 'groupsp.measutosh.dev/v1', kind: 'KindCustomHttp', name },
          minReplicas: 1,
          maxReplicas: 5,
          metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }],
        },
      };

      await kubectlOk(['apply', '-f', '-'], JSON.stringify(hpa));

      const stored = JSON.parse(await kubectlOk(['-n', namespace, 'get', 'hpa', name, '-o', 'json']));
      expect(stored.spec.scaleTargetRef).toEqual({ apiVersion: 'groupsp.measutosh.dev/v1', kind: 'KindCustomHttp', name });
    });
  });
});
