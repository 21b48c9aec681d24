// The rights in infra/ are exactly what the code needs, derived from the children table: the
// functions' ClusterRole, the forwarder's ClusterRole, and the kinds the functions' admission
// policy lets them write. A kind added to the table without its rules, or a verb dropped or
// added by hand, fails here.
import { readFileSync } from 'node:fs';
import { loadAll } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { apiGroupOf, childKindInfo, childKinds } from '../../functions/core/children.js';
import { GROUP, PLURAL } from '../../functions/core/kindcustomhttp.js';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

interface ResourceRule {
  apiGroups: string[];
  resources: string[];
  operations: string[];
}

function documents(path: string): Array<{ kind: string; metadata: { name: string }; rules?: Rule[]; spec?: { variables?: Array<{ name: string; expression: string }>; matchConstraints?: { resourceRules: ResourceRule[] } } }> {
  return loadAll(readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8')) as never;
}

function rulesOf(path: string, name: string): Rule[] {
  const role = documents(path).find((doc) => doc.kind === 'ClusterRole' && doc.metadata.name === name);
  if (!role) throw new Error(`no ClusterRole ${name} in ${path}`);
  return role.rules ?? [];
}

/** Each rule as `group/resource verb` grants, sorted: one line per right. */
function grants(rules: Rule[]): string[] {
  return rules.flatMap((rule) => rule.apiGroups.flatMap((group) => rule.resources.flatMap((resource) => rule.verbs.map((verb) => `${group}/${resource} ${verb}`)))).sort();
}

const childGrants = (verbs: string[]) => childKinds.flatMap((kind) => verbs.map((verb) => `${apiGroupOf(kind)}/${childKindInfo[kind].plural} ${verb}`));

/** What functions/core/kube-api.ts does: read and list the CRs, apply their status, record Events, and read, list, apply (create or patch) and delete every child kind. */
const reconcilerNeeds = [
  `${GROUP}/${PLURAL} get`,
  `${GROUP}/${PLURAL} list`,
  `${GROUP}/${PLURAL}/status patch`,
  '/events create',
  ...childGrants(['create', 'delete', 'get', 'list', 'patch']),
].sort();

/** What the forwarder's watches do, on the CRs and every child kind. */
const forwarderNeeds = [`${GROUP}/${PLURAL}`, ...childKinds.map((kind) => `${apiGroupOf(kind)}/${childKindInfo[kind].plural}`)].flatMap((resource) => ['get', 'list', 'watch'].map((verb) => `${resource} ${verb}`)).sort();

describe('the rights infra/ grants', () => {
  it('give the functions exactly what the reconcile and the resync do with the table’s kinds', () => {
    expect(grants(rulesOf('infra/reconciler/clusterrole.yaml', 'stimulated-peering:reconciler'))).toEqual(reconcilerNeeds);
  });

  it('give the forwarder exactly the watches of the CRs and the table’s kinds', () => {
    expect(grants(rulesOf('infra/forwarder/rbac.yaml', 'kindcustomhttp-forwarder'))).toEqual(forwarderNeeds);
  });

  it('let the functions write, by their admission policy, exactly the table’s kinds', () => {
    const policy = documents('infra/reconciler/admission-policy.yaml').find((doc) => doc.kind === 'ValidatingAdmissionPolicy')!;
    const child = policy.spec!.variables!.find((variable) => variable.name === 'child')!.expression;
    const listed = /in \[([^\]]*)\]/.exec(child)![1]!.split(',').map((item) => item.trim().replace(/^'|'$/g, ''));
    expect(listed.sort()).toEqual(childKinds.map((kind) => `${apiGroupOf(kind)}/${childKindInfo[kind].plural}`).sort());
  });

  it('hold every write the functions’ ClusterRole grants to the admission policy, and no other', () => {
    const written = grants(rulesOf('infra/reconciler/clusterrole.yaml', 'stimulated-peering:reconciler'))
      .filter((grant) => / (create|update|patch|delete|deletecollection)$/.test(grant))
      .map((grant) => grant.split(' ')[0]!);
    const policy = documents('infra/reconciler/admission-policy.yaml').find((doc) => doc.kind === 'ValidatingAdmissionPolicy')!;
    const rules = policy.spec!.matchConstraints!.resourceRules;
    const matched = rules.flatMap((rule) => rule.apiGroups.flatMap((group) => rule.resources.map((resource) => `${group}/${resource}`)));
    expect([...new Set(matched)].sort()).toEqual([...new Set(written)].sort());
    // A patch, server-side apply included, reaches admission as an UPDATE, or a CREATE when the object is new.
    for (const rule of rules) expect([...rule.operations].sort()).toEqual(['CREATE', 'DELETE', 'UPDATE']);
  });

  it('would fail if a verb were removed from the functions’ ClusterRole', () => {
    const rules = structuredClone(rulesOf('infra/reconciler/clusterrole.yaml', 'stimulated-peering:reconciler'));
    const children = rules.find((rule) => rule.resources.includes('deployments'))!;
    children.verbs = children.verbs.filter((verb) => verb !== 'delete');
    expect(grants(rules)).not.toEqual(reconcilerNeeds);
  });
});
