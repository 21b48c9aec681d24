// Kubeconfigs of the kinds the functions accept, against the real API server: it sees the identity
// the kubeconfig names (an exec plugin's token, an impersonated user), and refuses what that
// identity may not do.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump, load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterEndpoint } from '../../functions/core/cluster-endpoint.js';
import { ApiError, KubeClient } from '../../functions/core/kube-client.js';
import { adminClients, createNamespace, deleteNamespace, kubeconfigPath, serviceAccountToken } from '../support/kube.js';

interface Kubeconfig {
  'current-context': string;
  contexts: Array<{ name: string; context: { cluster: string; user: string } }>;
  users: Array<{ name: string; user: Record<string, unknown> }>;
}

let namespace: string;
let dir: string;

beforeAll(async () => {
  namespace = await createNamespace('cluster-access');
  dir = mkdtempSync(join(tmpdir(), 'cluster-access-'));
  await adminClients().core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'plugin-user' } } });
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await deleteNamespace(namespace);
});

/** The admin kubeconfig with its current user's settings replaced by (or added to) `user`. */
function kubeconfigWith(user: Record<string, unknown>, replace: boolean): string {
  const config = load(readFileSync(kubeconfigPath(), 'utf8')) as Kubeconfig;
  const userName = config.contexts.find((context) => context.name === config['current-context'])!.context.user;
  const entry = config.users.find((candidate) => candidate.name === userName)!;
  entry.user = replace ? user : { ...entry.user, ...user };
  const path = join(dir, `kubeconfig-${Math.random().toString(36).slice(2)}`);
  writeFileSync(path, dump(config), { mode: 0o600 });
  return path;
}

/** Who the API server takes the client for (a SelfSubjectReview). */
async function whoAmI(client: KubeClient): Promise<{ username: string; groups: string[] }> {
  const review = await client.request<{ status: { userInfo: { username: string; groups: string[] } } }>('/apis/authentication.k8s.io/v1/selfsubjectreviews', {
    method: 'POST',
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  return review.status.userInfo;
}

const clientFor = (path: string) => new KubeClient(clusterEndpoint({ mode: 'kubeconfig', path }), { timeoutMs: 10_000 });

describe('a kubeconfig with impersonation', () => {
  it('acts as the impersonated user and groups, and is refused what that user may not do', async () => {
    const client = clientFor(kubeconfigWith({ as: 'jane@example.com', 'as-groups': ['auditors'] }, false));

    const identity = await whoAmI(client);
    const refused = await client.request(`/api/v1/namespaces/${namespace}/secrets`).catch((error: unknown) => error);

    expect(identity.username).toBe('jane@example.com');
    expect(identity.groups).toContain('auditors');
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ code: 403, reason: 'Forbidden' });
    expect((refused as ApiError).message).toContain('User "jane@example.com" cannot list resource "secrets"');
  });
});

describe('a kubeconfig with an exec plugin', () => {
  it('acts as the plugin’s token says, and runs the plugin again when the API server refuses its first token', async () => {
    const token = await serviceAccountToken(namespace, 'plugin-user');
    const runs = join(dir, 'runs');
    // The first run prints a token the API server does not know, as a plugin whose cached token expired would.
    const plugin = join(dir, 'plugin');
    writeFileSync(
      plugin,
      `#!${process.execPath}
const fs = require('node:fs');
const run = (fs.existsSync(${JSON.stringify(runs)}) ? Number(fs.readFileSync(${JSON.stringify(runs)}, 'utf8')) : 0) + 1;
fs.writeFileSync(${JSON.stringify(runs)}, String(run));
console.log(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: run === 1 ? 'expired' : ${JSON.stringify(token)} } }));
`,
    );
    chmodSync(plugin, 0o755);
    const client = clientFor(kubeconfigWith({ exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' } }, true));

    const identity = await whoAmI(client);

    expect(identity.username).toBe(`system:serviceaccount:${namespace}:plugin-user`);
    expect(readFileSync(runs, 'utf8')).toBe('2');
  });
});
