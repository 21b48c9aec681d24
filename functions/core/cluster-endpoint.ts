// How a process reaches the cluster's API: a kubeconfig (file or text), the pod's service account
// (in cluster), or an EKS cluster with tokens minted from an IAM role. Each gives a ClusterEndpoint
// for the KubeClient. Of a kubeconfig, what the functions and the forwarder can use: a token or a
// token file, client certificates, and exec credential plugins (`aws eks get-token`, ...).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { promisify } from 'node:util';
import { load } from 'js-yaml';
import type { ClusterEndpoint } from './kube-client.js';

/** Something that hands out a bearer token, refreshing it as it sees fit. */
export interface TokenSource {
  token(): Promise<string>;
}

export type ClusterAccess =
  | { mode: 'kubeconfig'; path: string; context?: string }
  | { mode: 'kubeconfig-string'; kubeconfig: string; context?: string }
  | { mode: 'in-cluster' }
  | { mode: 'eks'; server: string; caData: string; tokens: TokenSource };

export class KubeconfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeconfigError';
  }
}

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
/** A projected service account token is rotated on disk; read it again at most this often. */
const TOKEN_FILE_REREAD_MS = 60_000;

export function clusterEndpoint(access: ClusterAccess): ClusterEndpoint {
  switch (access.mode) {
    case 'kubeconfig':
      return fromKubeconfig(readFileSync(access.path, 'utf8'), dirname(resolve(access.path)), access.context);
    case 'kubeconfig-string':
      return fromKubeconfig(access.kubeconfig, process.cwd(), access.context);
    case 'in-cluster': {
      const host = process.env.KUBERNETES_SERVICE_HOST;
      if (!host) throw new KubeconfigError('not in a pod: KUBERNETES_SERVICE_HOST is not set');
      const server = `https://${host.includes(':') ? `[${host}]` : host}:${process.env.KUBERNETES_SERVICE_PORT ?? '443'}`;
      return { server, ca: readFileSync(`${SERVICE_ACCOUNT}/ca.crt`), token: tokenFile(`${SERVICE_ACCOUNT}/token`) };
    }
    case 'eks':
      return { server: access.server, ca: Buffer.from(access.caData, 'base64'), token: () => access.tokens.token() };
  }
}

interface KubeconfigCluster {
  server?: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
  'proxy-url'?: string;
}

interface ExecConfig {
  command: string;
  args?: string[];
  env?: Array<{ name: string; value: string }>;
}

interface KubeconfigUser {
  token?: string;
  tokenFile?: string;
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  exec?: ExecConfig;
  'auth-provider'?: unknown;
  username?: string;
}

interface Kubeconfig {
  'current-context'?: string;
  clusters?: Array<{ name: string; cluster: KubeconfigCluster }>;
  users?: Array<{ name: string; user: KubeconfigUser }>;
  contexts?: Array<{ name: string; context: { cluster: string; user: string } }>;
}

function named<T extends { name: string }>(list: T[] | undefined, name: string, what: string): T {
  const found = list?.find((entry) => entry.name === name);
  if (!found) throw new KubeconfigError(`the kubeconfig has no ${what} named ${JSON.stringify(name)}`);
  return found;
}

/** A file's content given as inline base64 data or as a path relative to the kubeconfig. */
function material(data: string | undefined, path: string | undefined, base: string): Buffer | undefined {
  if (data) return Buffer.from(data, 'base64');
  if (path) return readFileSync(resolve(base, path));
  return undefined;
}

/** The endpoint of a kubeconfig's current context (or `context`). */
export function fromKubeconfig(text: string, base: string, context?: string): ClusterEndpoint {
  const config = (load(text) ?? {}) as Kubeconfig;
  const contextName = context ?? config['current-context'];
  if (!contextName) throw new KubeconfigError('the kubeconfig has no current-context');
  const { cluster: clusterName, user: userName } = named(config.contexts, contextName, 'context').context;
  return { ...clusterPart(clusterName, named(config.clusters, clusterName, 'cluster').cluster, base), ...userPart(userName, named(config.users, userName, 'user').user ?? {}, base) };
}

function clusterPart(name: string, cluster: KubeconfigCluster, base: string): Omit<ClusterEndpoint, 'cert' | 'key' | 'token'> {
  if (!cluster.server) throw new KubeconfigError(`cluster ${JSON.stringify(name)} has no server`);
  if (cluster['proxy-url']) throw new KubeconfigError(`cluster ${JSON.stringify(name)} uses proxy-url, which is not supported`);
  return {
    server: cluster.server,
    ca: material(cluster['certificate-authority-data'], cluster['certificate-authority'], base),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    tlsServerName: cluster['tls-server-name'],
  };
}

function userPart(name: string, user: KubeconfigUser, base: string): Pick<ClusterEndpoint, 'cert' | 'key' | 'token'> {
  if (user['auth-provider'] || user.username) {
    throw new KubeconfigError(`user ${JSON.stringify(name)} uses an auth-provider or basic auth; use a token, a client certificate or an exec plugin`);
  }
  return {
    cert: material(user['client-certificate-data'], user['client-certificate'], base),
    key: material(user['client-key-data'], user['client-key'], base),
    token: userToken(user, base),
  };
}

function userToken(user: KubeconfigUser, base: string): ClusterEndpoint['token'] {
  if (user.token) return async () => user.token;
  if (user.tokenFile) return tokenFile(resolve(base, user.tokenFile));
  if (user.exec) return execToken(user.exec);
  return undefined;
}

function tokenFile(path: string): () => Promise<string> {
  let cached: { token: string; at: number } | undefined;
  return async () => {
    if (!cached || Date.now() - cached.at > TOKEN_FILE_REREAD_MS) cached = { token: readFileSync(path, 'utf8').trim(), at: Date.now() };
    return cached.token;
  };
}

interface ExecCredential {
  status?: { token?: string; expirationTimestamp?: string };
}

/** A client-go exec credential plugin: runs it, and again shortly before its token expires. */
function execToken(exec: ExecConfig): () => Promise<string> {
  let cached: { token: string; expiresAt: number } | undefined;
  let pending: Promise<string> | undefined;
  const run = async () => {
    const env = { ...process.env, ...Object.fromEntries((exec.env ?? []).map(({ name, value }) => [name, value])) };
    const { stdout } = await promisify(execFile)(exec.command, exec.args ?? [], { env });
    const status = (JSON.parse(stdout) as ExecCredential).status;
    if (!status?.token) throw new KubeconfigError(`${exec.command} gave no token (client certificates from exec plugins are not supported)`);
    const expiresAt = status.expirationTimestamp ? Date.parse(status.expirationTimestamp) - 60_000 : Infinity;
    cached = { token: status.token, expiresAt };
    return status.token;
  };
  return async () => {
    if (cached && Date.now() < cached.expiresAt) return cached.token;
    pending ??= run().finally(() => {
      pending = undefined;
    });
    return pending;
  };
}
