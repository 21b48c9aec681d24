// The resync from lists against the real control plane: every kind of drift is found without
// reading CRs one by one, an unchanged cluster costs requests per page and writes nothing, and a
// run cut short by its time budget leaves the rest to the next run, which reaches them.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { childKinds, isWanted } from '../../functions/core/children.js';
import { checkSpec, defaultImagePolicy } from '../../functions/core/images.js';
import { resync, type ResyncOptions, type ResyncReport } from '../../functions/core/resync.js';
import { adminClients, apiserverRequests, createNamespace, deleteNamespace, installCrd, kubectlOk, uniqueName } from '../support/kube.js';
import { createCr, operatorApi, readChildren, reconcileUntilReady, resourceVersions, silentLog } from '../support/operator.js';

const api = operatorApi();
const { core } = adminClients();
const context = { api, log: silentLog };
const run = (namespace: string, options: Partial<ResyncOptions> = {}) =>
  resync(context, { namespaces: [namespace], pageSize: 500, concurrency: 4, timeLeft: () => 60_000, ...options });

beforeAll(() => installCrd());

const oneReplica = (() => {
  const parsed = checkSpec({ replicaCount: 1, port: 80 }, defaultImagePolicy);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.spec;
})();

/** A namespace of `count` CRs, converged and Ready. */
async function convergedNamespace(prefix: string, count: number): Promise<{ namespace: string; names: string[] }> {
  const namespace = await createNamespace(prefix);
  const names = Array.from({ length: count }, (_, i) => `cr-${i}`);
  await Promise.all(names.map((name) => createCr(namespace, name, { replicaCount: 1 })));
  await Promise.all(names.map((name) => reconcileUntilReady(api, namespace, name)));
  return { namespace, names };
}

describe('resync', () => {
  describe('when nothing drifted', () => {
    let namespace: string;
    let names: string[];

    beforeAll(async () => ({ namespace, names } = await convergedNamespace('resync-unchanged', 6)));
    afterAll(() => deleteNamespace(namespace));

    it('reads one page per kind, writes nothing and reconciles nothing', async () => {
      const before = await Promise.all(names.map((name) => resourceVersions(namespace, name)));
      const applies = await apiserverRequests({ verb: 'APPLY' });

      const report = await run(namespace, { pageSize: 500 });

      // One list of CRs and one of each child kind.
      expect(report).toMatchObject({ checked: 6, drifted: 0, repaired: 0, failed: [], notReached: 0, requests: 1 + childKinds.length });
      expect((await apiserverRequests({ verb: 'APPLY' })) - applies).toBe(0);
      expect(await Promise.all(names.map((name) => resourceVersions(namespace, name)))).toEqual(before);
    });

    it('pages through the lists, a request per page', async () => {
      const report = await run(namespace, { pageSize: 2 });

      expect(report).toMatchObject({ checked: 6, drifted: 0 });
      // Three pages of two of the CRs and of each child kind a CR of one replica has, one page of
      // a kind it has none of, and the namespace's unlabelled ConfigMap (kube-root-ca.crt) may cost
      // the ConfigMaps one page more.
      const kinds = childKinds.filter((kind) => isWanted(kind, oneReplica)).length;
      const pages = 3 * (1 + kinds) + (childKinds.length - kinds);
      expect(report.requests).toBeGreaterThanOrEqual(pages);
      expect(report.requests).toBeLessThanOrEqual(pages + 1);
    });
  });

  describe('finds every kind of drift from the lists and repairs it', () => {
    let namespace: string;

    afterEach(() => deleteNamespace(namespace));

    /** A converged CR alone in its namespace, drifted by `make`, then a resync. */
    async function driftedBy(make: (name: string) => Promise<unknown>): Promise<{ name: string; report: ResyncReport }> {
      namespace = await createNamespace('resync-drift');
      const name = uniqueName('cr');
      await createCr(namespace, name, { replicaCount: 0 });
      await reconcileUntilReady(api, namespace, name);
      expect(await run(namespace)).toMatchObject({ drifted: 0 });

      await make(name);
      const report = await run(namespace);
      return { name, report };
    }

    it('a missing child', async () => {
      const { name, report } = await driftedBy((name) => core.deleteNamespacedService({ namespace, name }));

      expect(report).toMatchObject({ drifted: 1, repaired: 1, failed: [] });
      expect((await readChildren(namespace, name)).Service).toBeDefined();
    });

    it('an owned field changed by hand', async () => {
      const { name, report } = await driftedBy((name) => kubectlOk(['-n', namespace, 'scale', 'deployment', name, '--replicas=3']));

      expect(report).toMatchObject({ drifted: 1, repaired: 1 });
      expect((await readChildren(namespace, name)).Deployment?.spec?.replicas).toBe(0);
    });

    it('a Service port another manager replaced (kubectl patch --type=json), which server-side apply alone cannot put back', async () => {
      const { name, report } = await driftedBy((name) => kubectlOk(['-n', namespace, 'patch', 'service', name, '--type=json', '-p', '[{"op":"replace","path":"/spec/ports/0/port","value":9999}]']));

      expect(report).toMatchObject({ drifted: 1, repaired: 1, degraded: 0, failed: [] });
      expect((await readChildren(namespace, name)).Service?.spec?.ports?.map((port) => port.port)).toEqual([80, 8080]);
    });

    it('a stray selector entry', async () => {
      const { name, report } = await driftedBy((name) => kubectlOk(['-n', namespace, 'patch', 'service', name, '--type=merge', '-p', '{"spec":{"selector":{"extra":"x"}}}']));

      expect(report).toMatchObject({ drifted: 1, repaired: 1 });
      expect((await readChildren(namespace, name)).Service?.spec?.selector).not.toHaveProperty('extra');
    });

    it('a stray or edited ConfigMap entry', async () => {
      const { name, report } = await driftedBy((name) => kubectlOk(['-n', namespace, 'patch', 'configmap', `${name}-configmap`, '--type=merge', '-p', '{"data":{"hostports":"elsewhere,1\\n","extra":"x"}}']));

      expect(report).toMatchObject({ drifted: 1, repaired: 1 });
      expect((await readChildren(namespace, name)).ConfigMap?.data).toEqual({ hostports: 'localhost,8080\n' });
    });

    it('a stale status', async () => {
      const { name, report } = await driftedBy((name) =>
        kubectlOk(['-n', namespace, 'patch', 'kch', name, '--subresource=status', '--type=merge', '-p', '{"status":{"readyReplicas":7}}']),
      );

      expect(report).toMatchObject({ drifted: 1, repaired: 1 });
      expect((await adminClients().custom.getNamespacedCustomObject({ group: 'groupsp.measutosh.dev', version: 'v1', plural: 'kindcustomhttps', namespace, name }) as { status: { readyReplicas: number } }).status.readyReplicas).toBe(0);
    });
  });

  describe('when its time runs out', () => {
    it('reports what it did not reach, and the next runs take it up until every CR is repaired', async () => {
      const namespace = await createNamespace('resync-budget');
      const names = Array.from({ length: 24 }, (_, i) => `cr-${i}`);
      await Promise.all(names.map((name) => createCr(namespace, name, { replicaCount: 0 })));
      // A budget that lets each run start five reconciles.
      const budgetOfFive = () => {
        let starts = 5;
        return () => starts--;
      };

      const withChildren = async () => (await core.listNamespacedConfigMap({ namespace, labelSelector: 'app.kubernetes.io/managed-by=stimulated-peering' })).items.length;
      const reports: ResyncReport[] = [];
      const reached: number[] = [];
      // A repaired CR's status lags behind its new Deployment, so it drifts once more: repairs come
      // first, statuses after, and a few runs beyond the five tidy them up.
      for (let i = 0; i < 12 && reports.at(-1)?.drifted !== 0; i++) {
        reports.push(await run(namespace, { concurrency: 1, timeLeft: budgetOfFive() }));
        reached.push(await withChildren());
      }

      expect(reports[0]).toMatchObject({ checked: 24, drifted: 24, repaired: 5, notReached: 19 });
      expect(reached.slice(0, 5)).toEqual([5, 10, 15, 20, 24]);
      expect(reports.at(-1)).toMatchObject({ drifted: 0, notReached: 0 });
      for (const name of names) expect((await readChildren(namespace, name)).ConfigMap).toBeDefined();
      await deleteNamespace(namespace);
    });
  });
});
