// The optional child, end to end on the real control plane and as the functions' own identity
// (their RBAC and admission policy): a CR of two replicas or more gets a PodDisruptionBudget the
// disruption controller follows, one of fewer loses it, a hand edit is repaired, and the resync
// finds a missing one and says nothing of one a CR does not want.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcile } from '../../functions/core/reconciler.js';
import { resync } from '../../functions/core/resync.js';
import { adminClients, createNamespace, deleteNamespace, eventually, installCrd, kubectlOk, uniqueName } from '../support/kube.js';
import { createCr, getCr, operatorApi, patchCrSpec, readChildren, reconcileUntilReady, silentLog } from '../support/operator.js';

const api = operatorApi();
const context = { api, log: silentLog };
const converge = (namespace: string, name: string) => reconcile(context, { namespace, name });
const resyncOf = (namespace: string) => resync(context, { namespaces: [namespace], pageSize: 500, concurrency: 4, timeLeft: () => 60_000 });
const budgetOf = async (namespace: string, name: string) => (await readChildren(namespace, name)).PodDisruptionBudget;
const crEvents = async (namespace: string, name: string) =>
  (await adminClients().core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name},involvedObject.kind=KindCustomHttp` })).items;

let namespace: string;
beforeAll(async () => {
  await installCrd();
  namespace = await createNamespace('budget');
});
afterAll(() => deleteNamespace(namespace));

/** A CR of `replicaCount` replicas, converged and Ready. */
async function readyCr(prefix: string, replicaCount: number, where = namespace): Promise<string> {
  const name = uniqueName(prefix);
  await createCr(where, name, { replicaCount });
  await reconcileUntilReady(api, where, name);
  return name;
}

describe('the PodDisruptionBudget', () => {
  it('is made for a CR of two replicas, owned by it, and the disruption controller allows one disruption of its pods', async () => {
    const name = await readyCr('two', 2);

    const budget = await budgetOf(namespace, name);
    const cr = await getCr(namespace, name);
    expect(budget?.spec).toMatchObject({ maxUnavailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': 'http-server', 'app.kubernetes.io/instance': name } } });
    expect(budget?.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'KindCustomHttp', uid: cr.metadata.uid, controller: true })]);
    await eventually('the disruption controller to count the two pods', async () => {
      const status = (await budgetOf(namespace, name))?.status;
      return status?.expectedPods === 2 && status.disruptionsAllowed === 1;
    });
  });

  it('is deleted when the CR drops to one replica, and made again at two', async () => {
    const name = await readyCr('scaled', 2);

    await patchCrSpec(namespace, name, { replicaCount: 1 });
    const down = await converge(namespace, name);

    expect(down.changes).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'PodDisruptionBudget', action: 'deleted' })]));
    expect(await budgetOf(namespace, name)).toBeUndefined();
    expect((await crEvents(namespace, name)).map((e) => e.message)).toContainEqual(expect.stringContaining(`deleted PodDisruptionBudget ${name}`));

    await patchCrSpec(namespace, name, { replicaCount: 2 });
    const up = await converge(namespace, name);

    expect(up.changes).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'PodDisruptionBudget', action: 'created' })]));
    expect((await budgetOf(namespace, name))?.spec?.maxUnavailable).toBe(1);
  });

  it('is repaired after a hand edit, with an Event saying so', async () => {
    const name = await readyCr('edited', 2);

    await kubectlOk(['patch', '-n', namespace, 'pdb', name, '--type=merge', '-p', '{"spec":{"maxUnavailable":0}}']);
    const result = await converge(namespace, name);

    expect(result.changes).toEqual([expect.objectContaining({ kind: 'PodDisruptionBudget', action: 'updated', fields: ['spec.maxUnavailable'] })]);
    expect((await budgetOf(namespace, name))?.spec?.maxUnavailable).toBe(1);
    expect((await crEvents(namespace, name)).map((e) => [e.reason, e.message])).toEqual([['Repaired', `updated PodDisruptionBudget ${name} (spec.maxUnavailable)`]]);
  });

  describe('in the resync', () => {
    let own: string;
    beforeAll(async () => (own = await createNamespace('budget-resync')));
    afterAll(() => deleteNamespace(own));

    it('is reported missing and made again', async () => {
      const name = await readyCr('missing', 2, own);
      expect(await resyncOf(own)).toMatchObject({ checked: 1, drifted: 0 });

      await kubectlOk(['delete', '-n', own, 'pdb', name]);
      const report = await resyncOf(own);

      expect(report).toMatchObject({ checked: 1, drifted: 1, repaired: 1, failed: [] });
      expect(await budgetOf(own, name)).toBeDefined();
    });

    it('is not reported for a CR of one replica, which has none', async () => {
      const name = await readyCr('single', 1, own);

      const report = await resyncOf(own);

      expect(report).toMatchObject({ checked: 2, drifted: 0, repaired: 0 });
      expect(await budgetOf(own, name)).toBeUndefined();
    });
  });
});
