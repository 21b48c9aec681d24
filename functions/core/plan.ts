// The one planner: given a CR's spec and what was observed of its children (one object per kind,
// read by the reconcile or listed by the resync), what each child needs. Pure; the reconcile
// carries a plan out, the resync hands over the CRs whose plan is not empty.
import { childKinds, infoOf, isWanted, type ChildKind, type ChildObject, type Children } from './children.js';
import { claimOf, driftOf } from './drift.js';
import type { KindCustomHttp, ResolvedSpec } from './kindcustomhttp.js';

interface PlanBase {
  kind: ChildKind;
  name: string;
}

/**
 * - `keep`: it is as wanted (or it is not wanted and not there, or not ours to remove);
 * - `create`: wanted and absent;
 * - `update`: ours, and `fields` drifted;
 * - `adopt`: the original operator's, or the CR asks to take it over: made anew;
 * - `delete`: ours, and the CR no longer wants one (an optional child, a leftover);
 * - `conflict`: wanted, but somebody else's object holds the name; nothing is written.
 */
export type ChildPlan =
  | (PlanBase & { action: 'keep'; observed?: ChildObject })
  | (PlanBase & { action: 'create'; desired: ChildObject })
  | (PlanBase & { action: 'update'; desired: ChildObject; observed: ChildObject; fields: string[] })
  | (PlanBase & { action: 'adopt'; desired: ChildObject; observed: ChildObject; fields: string[] })
  | (PlanBase & { action: 'delete'; observed: ChildObject })
  | (PlanBase & { action: 'conflict'; why: string });

export function planChildren(cr: KindCustomHttp, spec: ResolvedSpec, observed: Children): ChildPlan[] {
  return childKinds.map((kind) => planChild(kind, cr, spec, observed));
}

function planChild(kind: ChildKind, cr: KindCustomHttp, spec: ResolvedSpec, observed: Children): ChildPlan {
  const info = infoOf(kind);
  const name = info.name(cr.metadata.name);
  const current = observed[kind];
  const claim = claimOf(kind, current, cr, observed);
  if (!isWanted(kind, spec)) {
    return claim.kind === 'ours' ? { kind, name, action: 'delete', observed: current! } : { kind, name, action: 'keep', observed: current };
  }
  const desired = info.desired(cr, spec);
  switch (claim.kind) {
    case 'absent':
      return { kind, name, action: 'create', desired };
    case 'foreign':
      return { kind, name, action: 'conflict', why: claim.why };
    case 'adoptable':
      return { kind, name, action: 'adopt', desired, observed: current!, fields: driftOf(kind, desired, current!) };
    case 'ours': {
      const fields = driftOf(kind, desired, current!);
      return fields.length === 0 ? { kind, name, action: 'keep', observed: current } : { kind, name, action: 'update', desired, observed: current!, fields };
    }
  }
}

/** What a plan would do, one line a child, for logs and the resync's report; empty when there is nothing to do. */
export function pendingWork(plans: ChildPlan[]): string[] {
  return plans.flatMap((plan): string[] => {
    switch (plan.action) {
      case 'keep':
        return [];
      case 'update':
        return plan.fields.map((field) => `${plan.kind} ${field}`);
      case 'create':
        return [`${plan.kind} missing`];
      case 'delete':
        return [`${plan.kind} not wanted`];
      default:
        return [`${plan.kind} ${plan.action}`];
    }
  });
}
