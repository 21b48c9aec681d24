// The forwarder's ServiceAccount, bound to the RBAC from infra/forwarder exactly as kustomize
// renders it: it may read what it watches and keep its own Lease, nothing more; and that is
// enough for the forwarder to do its work.
import { AuthorizationV1Api, CoordinationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiGroupOf, childKindInfo, childKinds } from '../../functions/core/children.js';
import type { ForwarderHandle } from '../../functions/forwarder/forwarder.js';
import { EventBridgeEndpoint } from '../support/eventbridge-endpoint.js';
import { startTestForwarder } from '../support/forwarder.js';
import { adminConfig, createNamespace, deleteNamespace, eventually, installCrd, kubectl, kubectlOk, serviceAccountConfig } from '../support/kube.js';
import { createCr, kindCustomHttp } from '../support/operator.js';

const FORWARDER_NAMESPACE = 'kindcustomhttp-forwarder';
const FORWARDER = 'kindcustomhttp-forwarder';
const INFRA = new URL('../../infra/forwarder', import.meta.url).pathname;
let rbac: string;
let identity: KubeConfig;
let namespace: string;

/** The ServiceAccount and RBAC documents of the rendered kustomization; the Deployment is left out. */
async function renderedRbac(): Promise<string> {
  const rendered = await kubectlOk(['kustomize', INFRA]);
  const documents = rendered.split(/^---$/m).filter((doc) => /^kind: (ServiceAccount|ClusterRole|ClusterRoleBinding|Role|RoleBinding)$/m.test(doc));
  return documents.join('---\n');
}

async function allowed(request: { verb: string; group?: string; resource: string; namespace?: string; name?: string }): Promise<boolean> {
  const review = await identity.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
    body: { spec: { resourceAttributes: { ...request, group: request.group ?? '' } } },
  });
  return review.status!.allowed;
}

beforeAll(async () => {
  await installCrd();
  namespace = await createNamespace('fwd-rbac');
  await kubectl(['create', 'namespace', FORWARDER_NAMESPACE]);
  rbac = await renderedRbac();
  await kubectlOk(['apply', '-f', '-'], rbac);
  identity = await serviceAccountConfig(FORWARDER_NAMESPACE, FORWARDER);
});
afterAll(async () => {
  await adminConfig().makeApiClient(CoordinationV1Api).deleteNamespacedLease({ namespace: FORWARDER_NAMESPACE, name: FORWARDER }).catch(() => undefined);
  await kubectl(['delete', '--ignore-not-found', '-f', '-'], rbac);
  await deleteNamespace(namespace);
});

describe('infra/forwarder', () => {
  it('is accepted whole by the apiserver', async () => {
    const result = await kubectl(['apply', '-k', INFRA, '--dry-run=server']);

    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/deployment.apps\/kindcustomhttp-forwarder (created|configured|unchanged) \(server dry run\)/);
  });
});

describe('the forwarder\'s ServiceAccount', () => {
  it.each([
    { verb: 'watch', group: 'groupsp.measutosh.dev', resource: 'kindcustomhttps' },
    ...childKinds.flatMap((kind) => ['list', 'watch'].map((verb) => ({ verb, group: apiGroupOf(kind), resource: childKindInfo[kind].plural }))),
    { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: FORWARDER_NAMESPACE, name: FORWARDER },
  ])('may $verb $resource', async (request) => {
    expect(await allowed(request)).toBe(true);
  });

  it.each([
    { verb: 'create', group: 'groupsp.measutosh.dev', resource: 'kindcustomhttps', namespace: 'default' },
    { verb: 'update', group: 'groupsp.measutosh.dev', resource: 'kindcustomhttps', namespace: 'default', name: 'any' },
    { verb: 'patch', group: 'apps', resource: 'deployments', namespace: 'default', name: 'any' },
    { verb: 'delete', resource: 'configmaps', namespace: 'default', name: 'any' },
    { verb: 'create', resource: 'services', namespace: 'default' },
    { verb: 'get', resource: 'secrets', namespace: FORWARDER_NAMESPACE, name: 'any' },
    { verb: 'list', resource: 'secrets' },
    { verb: 'create', group: 'coordination.k8s.io', resource: 'leases', namespace: 'default' },
    { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: FORWARDER_NAMESPACE, name: 'someone-else' },
  ])('may not $verb $resource in $namespace', async (request) => {
    expect(await allowed(request)).toBe(false);
  });

  it('is refused when it actually tries to write a CR or read a Secret', async () => {
    const asForwarder = (args: string[], input?: string) => kubectl(args, input, kubeconfigFile(identity));

    const write = await asForwarder(['apply', '-f', '-'], JSON.stringify(kindCustomHttp(namespace, 'forbidden')));
    const secrets = await asForwarder(['-n', FORWARDER_NAMESPACE, 'get', 'secrets']);

    expect(write.stderr).toMatch(/forbidden/i);
    expect(secrets.stderr).toMatch(/forbidden/i);
  });

  describe('when the forwarder runs as it', () => {
    let endpoint: EventBridgeEndpoint;
    let forwarder: ForwarderHandle;

    beforeAll(async () => {
      endpoint = await EventBridgeEndpoint.start();
      forwarder = await startTestForwarder(endpoint, namespace, {
        KUBECONFIG: kubeconfigFile(identity),
        LEADER_ELECTION: 'true',
        POD_NAMESPACE: FORWARDER_NAMESPACE,
        LEASE_NAME: FORWARDER,
        // No namespace list: it watches the whole cluster, as deployed.
        WATCH_NAMESPACES: '',
      });
    });
    afterAll(async () => {
      await forwarder?.shutdown();
      await endpoint?.close();
    });

    it('has all it needs to take the Lease and publish', async () => {
      const cr = await createCr(namespace, 'permitted');

      await eventually('the event for the CR', () => endpoint.has('permitted', cr.metadata.resourceVersion!));
      expect(forwarder.leading()).toBe(true);
    });
  });
});

function kubeconfigFile(config: KubeConfig): string {
  const path = join(tmpdir(), `kubeconfig-forwarder-${process.pid}`);
  writeFileSync(path, config.exportConfig(), { mode: 0o600 });
  return path;
}
