// Every kubeconfig either works as client-go would make it work, or is refused by name before any
// request. Requests go to a throwaway HTTPS server on loopback; exec plugins are small Node scripts.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { dump } from 'js-yaml';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { json, LoopbackHttpsServer } from '../../test/support/https-server.js';
import { clusterEndpoint, KubeconfigError } from './cluster-endpoint.js';
import { ExecTokenSource } from './exec-credential.js';
import { KubeClient } from './kube-client.js';

let server: LoopbackHttpsServer;
let dir: string;

beforeAll(async () => {
  server = await LoopbackHttpsServer.start();
});
afterAll(() => server.close());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cluster-endpoint-'));
  server.requests.length = 0;
  server.connections = 0;
  server.handler = (_request, response) => json(response, 200, { kind: 'NamespaceList', items: [] });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A kubeconfig whose one context joins `cluster` and `user`, written to `path` (in the test's folder). */
function kubeconfig(cluster: object, user: object, path = join(dir, 'kubeconfig')): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(
    path,
    dump({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'test',
      clusters: [{ name: 'test', cluster }],
      users: [{ name: 'test', user }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'test' } }],
    }),
  );
  return path;
}

const trusted = () => ({ server: server.url, 'certificate-authority-data': server.ca.toString('base64') });

/**
 * An exec plugin: a Node script that counts its runs in `<name>.runs`, saves its environment's
 * KUBERNETES_EXEC_INFO in `<name>.info` and prints an ExecCredential with the token `token-<run>`.
 */
function plugin(name: string, { status = '{ token: `token-${run}` }', apiVersion = 'client.authentication.k8s.io/v1', body = '' } = {}): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(
    path,
    `#!${process.execPath}
const fs = require('node:fs');
const runs = ${JSON.stringify(`${path}.runs`)};
const run = (fs.existsSync(runs) ? Number(fs.readFileSync(runs, 'utf8')) : 0) + 1;
fs.writeFileSync(runs, String(run));
fs.writeFileSync(${JSON.stringify(`${path}.info`)}, process.env.KUBERNETES_EXEC_INFO ?? '');
${body}
console.log(JSON.stringify({ apiVersion: ${JSON.stringify(apiVersion)}, kind: 'ExecCredential', status: ${status} }));
`,
  );
  chmodSync(path, 0o755);
  return path;
}
const runsOf = (path: string) => Number(readFileSync(`${path}.runs`, 'utf8'));
const execInfoOf = (path: string) => JSON.parse(readFileSync(`${path}.info`, 'utf8'));
const exec = (command: string, more: object = {}) => ({ exec: { apiVersion: 'client.authentication.k8s.io/v1', command, interactiveMode: 'Never', ...more } });

function client(path: string): KubeClient {
  return new KubeClient(clusterEndpoint({ mode: 'kubeconfig', path }), { timeoutMs: 5000 });
}

describe('a kubeconfig', () => {
  describe('whose server URL has a path (Rancher, some proxies)', () => {
    it.each(['/k8s/clusters/c-x', '/k8s/clusters/c-x/'])('sends every request under that path (%s)', async (prefix) => {
      const path = kubeconfig({ ...trusted(), server: server.url + prefix }, { token: 't' });

      await client(path).request('/api/v1/namespaces', { query: { limit: 1 } });

      expect(server.requests.map((r) => r.path)).toEqual(['/k8s/clusters/c-x/api/v1/namespaces?limit=1']);
    });
  });

  describe('with an exec plugin', () => {
    it('sends the token the plugin printed, and runs it once while the token holds', async () => {
      const command = plugin('plugin');
      const api = client(kubeconfig(trusted(), exec(command)));

      await api.request('/api');
      await api.request('/api');

      expect(server.requests.map((r) => r.headers.authorization)).toEqual(['Bearer token-1', 'Bearer token-1']);
      expect(runsOf(command)).toBe(1);
    });

    describe('whose token has no expirationTimestamp', () => {
      it('runs the plugin again after a 401 and retries the request once with the new token', async () => {
        const command = plugin('plugin');
        server.handler = (request, response) => (request.headers.authorization === 'Bearer token-2' ? json(response, 200, {}) : json(response, 401, { kind: 'Status', code: 401, reason: 'Unauthorized' }));
        const api = client(kubeconfig(trusted(), exec(command)));

        await api.request('/api/v1/namespaces', { method: 'POST', body: { kind: 'Namespace' } });
        await api.request('/api');

        expect(server.requests.map((r) => `${r.method} ${r.headers.authorization}`)).toEqual(['POST Bearer token-1', 'POST Bearer token-2', 'GET Bearer token-2']);
        expect(runsOf(command)).toBe(2);
      });

      it('gives up after that one retry when the new token is refused too', async () => {
        const command = plugin('plugin');
        server.handler = (_request, response) => json(response, 401, { kind: 'Status', code: 401, reason: 'Unauthorized' });
        const api = client(kubeconfig(trusted(), exec(command)));

        await expect(api.request('/api')).rejects.toMatchObject({ name: 'ApiError', code: 401 });

        expect(server.requests).toHaveLength(2);
        expect(runsOf(command)).toBe(2);
      });
    });

    describe('whose token has an expirationTimestamp', () => {
      it('runs the plugin again once the token is within a minute of it', async () => {
        const command = plugin('plugin', { status: '{ token: `token-${run}`, expirationTimestamp: new Date(Date.now() + 90_000).toISOString() }' });
        let now = Date.now();
        const source = new ExecTokenSource({ apiVersion: 'client.authentication.k8s.io/v1', command }, { now: () => now });

        expect(await source.token()).toBe('token-1');
        now += 20_000;
        expect(await source.token()).toBe('token-1');
        now += 20_000;
        expect(await source.token()).toBe('token-2');
      });
    });

    it('hands the plugin KUBERNETES_EXEC_INFO as client-go does: not interactive, with the cluster when provideClusterInfo is set', async () => {
      const command = plugin('plugin');
      const extension = { audience: 'kubernetes' };
      const cluster = { ...trusted(), 'tls-server-name': '127.0.0.1', extensions: [{ name: 'client.authentication.k8s.io/exec', extension }] };

      await client(kubeconfig(cluster, exec(command, { provideClusterInfo: true }))).request('/api');

      expect(execInfoOf(command)).toEqual({
        apiVersion: 'client.authentication.k8s.io/v1',
        kind: 'ExecCredential',
        spec: { interactive: false, cluster: { server: server.url, 'tls-server-name': '127.0.0.1', 'certificate-authority-data': server.ca.toString('base64'), config: extension } },
      });
    });

    it('leaves the cluster out of KUBERNETES_EXEC_INFO without provideClusterInfo, and speaks v1beta1 to a v1beta1 plugin', async () => {
      const command = plugin('plugin', { apiVersion: 'client.authentication.k8s.io/v1beta1' });

      await client(kubeconfig(trusted(), exec(command, { apiVersion: 'client.authentication.k8s.io/v1beta1', interactiveMode: undefined }))).request('/api');

      expect(execInfoOf(command)).toEqual({ apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', spec: { interactive: false } });
    });

    it('runs the plugin with the kubeconfig’s env on top of the process’s', async () => {
      const command = plugin('plugin', { status: '{ token: process.env.PLUGIN_TOKEN + "-" + (process.env.PATH ? "with-path" : "no-path") }' });

      await client(kubeconfig(trusted(), exec(command, { env: [{ name: 'PLUGIN_TOKEN', value: 'from-env' }] }))).request('/api');

      expect(server.requests[0]!.headers.authorization).toBe('Bearer from-env-with-path');
    });

    it('resolves a relative command against the kubeconfig’s folder, as client-go does', async () => {
      plugin('config/bin/plugin');
      const path = kubeconfig(trusted(), exec('./bin/plugin'), join(dir, 'config/kubeconfig'));

      await client(path).request('/api');

      expect(server.requests[0]!.headers.authorization).toBe('Bearer token-1');
    });

    it('looks a bare command up in PATH', async () => {
      plugin('bin/kube-test-plugin');
      const path = kubeconfig(trusted(), exec('kube-test-plugin'));
      const saved = process.env.PATH;
      process.env.PATH = `${join(dir, 'bin')}${delimiter}${saved}`;
      try {
        await client(path).request('/api');
      } finally {
        process.env.PATH = saved;
      }

      expect(server.requests[0]!.headers.authorization).toBe('Bearer token-1');
    });

    it('fails a plugin that does not answer within its timeout, and kills it', async () => {
      const command = plugin('plugin', { body: 'fs.writeFileSync(runs + ".pid", String(process.pid)); setInterval(() => {}, 1000);' });
      const source = new ExecTokenSource({ apiVersion: 'client.authentication.k8s.io/v1', command }, { timeoutMs: 2000 });

      await expect(source.token()).rejects.toThrow(`exec plugin ${command} gave no answer within 2000 ms`);

      const pid = Number(readFileSync(`${command}.runs.pid`, 'utf8'));
      await expect.poll(() => alive(pid)).toBe(false);
    });

    it('fails naming the plugin, its exit code, its stderr and its install hint', async () => {
      const failing = plugin('plugin', { body: 'console.error("not logged in"); process.exit(3);' });

      await expect(client(kubeconfig(trusted(), exec(failing))).request('/api')).rejects.toThrow(`exec plugin ${failing} failed with exit code 3: not logged in`);
      await expect(client(kubeconfig(trusted(), exec('/nonexistent/plugin', { installHint: 'install it with brew' }))).request('/api')).rejects.toThrow(/could not be run: .*ENOENT.*\ninstall it with brew/);
    });

    it('fails a plugin answering in another API version than configured', async () => {
      const command = plugin('plugin', { apiVersion: 'client.authentication.k8s.io/v1beta1' });

      await expect(client(kubeconfig(trusted(), exec(command))).request('/api')).rejects.toThrow('plugin returned version client.authentication.k8s.io/v1beta1');
    });
  });

  describe('with impersonation', () => {
    it('sends the Impersonate-* headers client-go sends for as, as-uid, as-groups and as-user-extra', async () => {
      const user = { token: 't', as: 'jane', 'as-uid': '42', 'as-groups': ['devs', 'ops'], 'as-user-extra': { 'example.com/scopes': ['a', 'b'], 'reason%': ['x'] } };

      await client(kubeconfig(trusted(), user)).request('/api');

      const seen = server.requests[0]!.headersDistinct;
      expect(seen['impersonate-user']).toEqual(['jane']);
      expect(seen['impersonate-uid']).toEqual(['42']);
      expect(seen['impersonate-group']).toEqual(['devs', 'ops']);
      // Header names travel lower-cased; the API server unescapes %2f as %2F.
      expect(seen['impersonate-extra-example.com%2fscopes']).toEqual(['a', 'b']);
      expect(seen['impersonate-extra-reason%25']).toEqual(['x']);
      expect(server.requests[0]!.headers.authorization).toBe('Bearer t');
    });

    it('refuses groups, a uid or extras without a user to impersonate', () => {
      expect(() => clusterEndpoint({ mode: 'kubeconfig', path: kubeconfig(trusted(), { token: 't', 'as-groups': ['devs'] }) })).toThrow(KubeconfigError);
    });
  });

  describe('when KUBECONFIG names several files', () => {
    it('merges them as client-go does: the first to name an entry wins, paths are relative to their own file, missing files are skipped', async () => {
      writeFileSync(join(dir, 'ca.crt'), server.ca);
      mkdirSync(join(dir, 'first'));
      mkdirSync(join(dir, 'second'));
      writeFileSync(join(dir, 'second/ca.crt'), server.ca);
      const first = join(dir, 'first/config');
      const second = join(dir, 'second/config');
      writeFileSync(first, dump({ 'current-context': 'work', contexts: [{ name: 'work', context: { cluster: 'remote', user: 'me' } }], users: [{ name: 'me', user: { token: 'first' } }] }));
      writeFileSync(
        second,
        dump({
          'current-context': 'other',
          clusters: [{ name: 'remote', cluster: { server: server.url, 'certificate-authority': 'ca.crt' } }],
          users: [{ name: 'me', user: { token: 'second' } }],
        }),
      );

      await client([join(dir, 'missing'), first, '', second].join(delimiter)).request('/api');

      expect(server.requests[0]!.headers.authorization).toBe('Bearer first');
    });

    it('fails when none of them exists', () => {
      expect(() => clusterEndpoint({ mode: 'kubeconfig', path: [join(dir, 'a'), join(dir, 'b')].join(delimiter) })).toThrow(/no kubeconfig file exists/);
    });
  });

  describe('using what the functions cannot honour', () => {
    const proxied = () => ({ ...trusted(), 'proxy-url': 'http://proxy:3128' });
    it.each([
      ['an auth provider', trusted, { 'auth-provider': { name: 'oidc', config: {} } }, /user "test" uses auth-provider "oidc", which is not supported: use an exec plugin/],
      ['basic auth', trusted, { username: 'admin', password: 'secret' }, /user "test" uses basic auth/],
      ['a proxy', proxied, { token: 't' }, /cluster "test" sets proxy-url, which is not supported/],
      ['an interactive-only exec plugin', trusted, exec('aws', { interactiveMode: 'Always' }), /interactiveMode Always, and this process has no terminal/],
      ['an exec plugin of a removed API version', trusted, exec('aws', { apiVersion: 'client.authentication.k8s.io/v1alpha1' }), /apiVersion "client.authentication.k8s.io\/v1alpha1"; supported: /],
      ['a v1 exec plugin that does not say its interactiveMode, as client-go requires', trusted, exec('aws', { interactiveMode: undefined }), /interactiveMode "": it must be Never, IfAvailable or Always/],
    ])('refuses %s by name before any request', (_what, cluster, user, message) => {
      expect(() => clusterEndpoint({ mode: 'kubeconfig', path: kubeconfig(cluster(), user) })).toThrow(message);
      expect(server.requests).toEqual([]);
    });
  });
});

describe('the client’s kept-alive connections', () => {
  it('are reused from one request to the next', async () => {
    const api = new KubeClient(clusterEndpoint({ mode: 'kubeconfig', path: kubeconfig(trusted(), { token: 't' }) }), { timeoutMs: 5000, idleConnectionMs: 60_000 });

    await api.request('/api');
    await api.request('/api');

    expect(server.connections).toBe(1);
    api.close();
  });

  it('are not reused once idle for longer than the idle limit (a Lambda freeze): the next request opens a new one', async () => {
    const api = new KubeClient(clusterEndpoint({ mode: 'kubeconfig', path: kubeconfig(trusted(), { token: 't' }) }), { timeoutMs: 5000, idleConnectionMs: 50 });

    await api.request('/api');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await api.request('/api');

    expect(server.connections).toBe(2);
    api.close();
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
