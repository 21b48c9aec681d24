// infra/ as `kubectl apply -k infra` would install it: one build holding the CRD from crds/, the
// reconciler's RBAC and the forwarder, every object of which the API server accepts.
import type { KubernetesObject } from '@kubernetes/client-node';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRD_PATH, createNamespace, deleteNamespace, kubectlOk } from '../support/kube.js';

const INFRA = new URL('../../infra', import.meta.url).pathname;
const CLUSTER_ROLE_PATH = new URL('../../infra/reconciler/clusterrole.yaml', import.meta.url).pathname;

type Manifest = KubernetesObject & Record<string, unknown>;

/** The objects kubectl would create from these arguments (`-k dir` or `-f file`), as plain JSON. */
async function manifests(...args: string[]): Promise<Manifest[]> {
  const stream = await kubectlOk(['create', '--dry-run=client', '-o', 'json', ...args]);
  // kubectl prints one indented JSON document after another; only a document's last brace starts a line.
  return JSON.parse(`[${stream.trim().replace(/\n}\n{/g, '\n},\n{')}]`) as Manifest[];
}

let objects: Manifest[];
let namespace: string;

beforeAll(async () => {
  objects = await manifests('-k', INFRA);
  namespace = await createNamespace('infra');
});
afterAll(() => deleteNamespace(namespace));

const named = (kind: string, name?: string) => objects.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));

describe('the infra kustomization', () => {
  it('installs the CRD exactly as crds/ defines it', async () => {
    const source = await manifests('-f', CRD_PATH);

    expect(named('CustomResourceDefinition')).toEqual(source);
  });

  it('installs the reconciler ClusterRole and binds it to the reconciler group', async () => {
    const [role] = await manifests('-f', CLUSTER_ROLE_PATH);

    expect(named('ClusterRole', role!.metadata!.name)).toEqual([role]);
    expect(named('ClusterRoleBinding', role!.metadata!.name)[0]).toMatchObject({
      roleRef: { kind: 'ClusterRole', name: role!.metadata!.name },
      subjects: [{ kind: 'Group', name: 'stimulated-peering:reconciler' }],
    });
  });

  it('installs the admission policy, for the group the ClusterRoleBinding binds, denying what it refuses', () => {
    const group = named('ClusterRoleBinding', 'stimulated-peering:reconciler')[0] as unknown as { subjects: Array<{ name: string }> };
    const [policy] = named('ValidatingAdmissionPolicy') as unknown as Array<{ metadata: { name: string }; spec: { failurePolicy: string; matchConditions: Array<{ expression: string }> } }>;

    expect(policy?.spec.failurePolicy).toBe('Fail');
    expect(policy?.spec.matchConditions[0]?.expression).toContain(`'${group.subjects[0]!.name}' in request.userInfo.groups`);
    expect(named('ValidatingAdmissionPolicyBinding')[0]).toMatchObject({ spec: { policyName: policy?.metadata.name, validationActions: ['Deny'] } });
  });

  it('binds the ClusterRoles per namespace instead, and sets the forwarder’s WATCH_NAMESPACES, with the namespaced component', async () => {
    const overlay = mkdtempSync(join(tmpdir(), 'namespaced-'));
    writeFileSync(join(overlay, 'kustomization.yaml'), `resources: [${relative(overlay, INFRA)}]\ncomponents: [${relative(overlay, `${INFRA}/namespaced`)}]\n`);
    const namespaced = await manifests('-k', overlay);
    rmSync(overlay, { recursive: true });

    expect(namespaced.filter((o) => o.kind === 'ClusterRoleBinding')).toEqual([]);
    expect(namespaced.filter((o) => o.kind === 'RoleBinding' && o.metadata?.namespace === 'peerns').map((o) => [o.metadata?.name, (o.roleRef as { kind: string }).kind])).toEqual([
      ['kindcustomhttp-forwarder', 'ClusterRole'],
      ['stimulated-peering:reconciler', 'ClusterRole'],
    ]);
    expect(namespaced.find((o) => o.kind === 'ConfigMap')?.data).toMatchObject({ WATCH_NAMESPACES: 'peerns' });
  });

  it('installs the forwarder together with the namespace it runs in', () => {
    const [deployment] = named('Deployment');

    expect(deployment?.metadata?.name).toBe('kindcustomhttp-forwarder');
    expect(named('Namespace').map((n) => n.metadata?.name)).toEqual([deployment?.metadata?.namespace]);
  });

  it('is accepted by the API server, object by object', async () => {
    // Server-side dry run, with the forwarder's objects moved to a namespace of the test's own:
    // the real one does not exist until the Namespace is really created.
    const forwarderNamespace = named('Namespace')[0]!.metadata!.name;
    const moved = objects.map((o) => (o.metadata?.namespace === forwarderNamespace ? { ...o, metadata: { ...o.metadata, namespace } } : o));

    const list = { apiVersion: 'v1', kind: 'List', items: moved };

    const output = await kubectlOk(['apply', '--server-side', '--dry-run=server', '--force-conflicts', '-f', '-'], JSON.stringify(list));

    expect(output.trim().split('\n')).toHaveLength(objects.length);
  });
});
