import { describe, expect, it } from 'vitest';
import { childKinds, desiredChildren, isWanted, type Children } from './children.js';
import { checkSpec, defaultImagePolicy } from './images.js';
import type { KindCustomHttp } from './kindcustomhttp.js';
import { pendingWork, planChildren } from './plan.js';

function crWith(spec: Record<string, unknown>): { cr: KindCustomHttp; spec: ReturnType<typeof resolved> } {
  const cr: KindCustomHttp = { apiVersion: 'groupsp.measutosh.dev/v1', kind: 'KindCustomHttp', metadata: { name: 'sample', namespace: 'peerns', uid: 'uid-1', generation: 1 }, spec };
  return { cr, spec: resolved(spec) };
}

function resolved(spec: Record<string, unknown>) {
  const parsed = checkSpec(spec, defaultImagePolicy);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.spec;
}

const { cr, spec } = crWith({ port: 80, replicaCount: 2, configMapData: { hostports: 'localhost,8080\n' } });
const actions = (observed: Children) => Object.fromEntries(planChildren(cr, spec, observed).map((plan) => [plan.kind, plan.action]));

describe('planChildren', () => {
  it('creates every child a new CR wants, and nothing else', () => {
    const wanted = childKinds.filter((kind) => isWanted(kind, spec));
    expect(actions({})).toEqual(Object.fromEntries(childKinds.map((kind) => [kind, wanted.includes(kind) ? 'create' : 'keep'])));
    expect(pendingWork(planChildren(cr, spec, {}))).toEqual(wanted.map((kind) => `${kind} missing`));
  });

  it('keeps every child that is as desired: an empty plan', () => {
    const plans = planChildren(cr, spec, structuredClone(desiredChildren(cr, spec)));
    expect(plans.every((plan) => plan.action === 'keep')).toBe(true);
    expect(pendingWork(plans)).toEqual([]);
  });

  it('updates a Service whose port another manager replaced, naming the list to take back', () => {
    const observed = structuredClone(desiredChildren(cr, spec));
    observed.Service!.spec!.ports![0]!.port = 9999;
    expect(pendingWork(planChildren(cr, spec, observed))).toEqual(['Service spec.ports']);
  });

  it('updates a Deployment whose container another manager renamed', () => {
    const observed = structuredClone(desiredChildren(cr, spec));
    observed.Deployment!.spec!.template.spec!.containers[0]!.name = 'renamed';
    expect(pendingWork(planChildren(cr, spec, observed))).toEqual(['Deployment spec.template.spec.containers']);
  });

  it('reports an object of somebody else’s under a child’s name as a conflict, and leaves it', () => {
    const observed = { ...structuredClone(desiredChildren(cr, spec)), Service: { metadata: { name: 'sample' }, spec: { selector: { app: 'theirs' } } } };
    const plan = planChildren(cr, spec, observed).find((p) => p.kind === 'Service');
    expect(plan).toMatchObject({ action: 'conflict' });
  });
});

describe('planChildren with an optional child: the PodDisruptionBudget of a replicated server', () => {
  const one = crWith({ port: 80, replicaCount: 1 });
  const two = crWith({ port: 80, replicaCount: 2 });
  const ourBudget = () => structuredClone(desiredChildren(two.cr, two.spec).PodDisruptionBudget!);
  const budgetPlan = (target: typeof one, observed: Children) => planChildren(target.cr, target.spec, observed).find((plan) => plan.kind === 'PodDisruptionBudget')!;

  it('creates one for two replicas or more, with at most one pod unavailable', () => {
    expect(budgetPlan(two, {})).toMatchObject({ action: 'create', desired: { spec: { maxUnavailable: 1, selector: { matchLabels: { 'app.kubernetes.io/instance': 'sample' } } } } });
  });

  it('wants none for one replica: absent is nothing to do, and the resync reports nothing', () => {
    const observed = { ...structuredClone(desiredChildren(one.cr, one.spec)) };
    expect(observed.PodDisruptionBudget).toBeUndefined();
    expect(budgetPlan(one, observed)).toMatchObject({ action: 'keep' });
    expect(pendingWork(planChildren(one.cr, one.spec, observed))).toEqual([]);
  });

  it('deletes ours when the CR drops below two replicas', () => {
    const observed = { ...structuredClone(desiredChildren(one.cr, one.spec)), PodDisruptionBudget: ourBudget() };
    expect(budgetPlan(one, observed)).toMatchObject({ action: 'delete' });
    expect(pendingWork(planChildren(one.cr, one.spec, observed))).toEqual(['PodDisruptionBudget not wanted']);
  });

  it('leaves somebody else’s budget of that name alone when it wants none', () => {
    const theirs = { metadata: { name: 'sample' }, spec: { minAvailable: 1 } };
    expect(budgetPlan(one, { PodDisruptionBudget: theirs })).toMatchObject({ action: 'keep' });
  });

  it('repairs a stray selector entry', () => {
    const budget = ourBudget();
    budget.spec!.selector!.matchLabels!.extra = 'x';
    expect(budgetPlan(two, { ...structuredClone(desiredChildren(two.cr, two.spec)), PodDisruptionBudget: budget })).toMatchObject({ action: 'update', fields: ['spec.selector.matchLabels'] });
  });
});
