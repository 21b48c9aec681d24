// How a process reaches the cluster's API: a kubeconfig (files or text), the pod's service account
// (in cluster), or an EKS cluster with tokens minted from an IAM role. Each gives a ClusterEndpoint
// for the KubeClient. Of a kubeconfig (functions/core/kubeconfig.ts reads it), what the functions
// and the forwarder can use: a token or a token file, client certificates, exec credential plugins
// (functions/core/exec-credential.ts) and impersonation; the rest is refused by name.
import { readFileSync } from 'node:fs';
import { execClusterInfo, ExecTokenSource } from './exec-credential.js';
import type { ClusterEndpoint } from './kube-client.js';
import { KubeconfigError, readKubeconfigFiles, resolveContext, type KubeconfigSource, type KubeconfigUser } from './kubeconfig.js';

export { KubeconfigError } from './kubeconfig.js';

/** Something that hands out a bearer token, refreshing it as it sees fit. */
export interface TokenSource {
  token(): Promise<string>;
  /** The API server answered 401 to `token`; true when asking again may give another one. */
  rejected?(token: string): boolean;
}

export type ClusterAccess =
  /** `path` as KUBECONFIG holds it: one file, or several separated by `:`. */
  | { mode: 'kubeconfig'; path: string; context?: string }
  | { mode: 'kubeconfig-string'; kubeconfig: string; context?: string }
  | { mode: 'in-cluster' }
  | { mode: 'eks'; server: string; caData: string; tokens: TokenSource };

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
/** A projected service account token is rotated on disk; read it again at most this often. */
const TOKEN_FILE_REREAD_MS = 60_000;

export function clusterEndpoint(access: ClusterAccess): ClusterEndpoint {
  switch (access.mode) {
    case 'kubeconfig':
      return fromKubeconfig(readKubeconfigFiles(access.path), access.context);
    case 'kubeconfig-string':
      return fromKubeconfig([{ text: access.kubeconfig, base: process.cwd() }], access.context);
    case 'in-cluster': {
      const host = process.env.KUBERNETES_SERVICE_HOST;
      if (!host) throw new KubeconfigError('not in a pod: KUBERNETES_SERVICE_HOST is not set');
      const server = `https://${host.includes(':') ? `[${host}]` : host}:${process.env.KUBERNETES_SERVICE_PORT ?? '443'}`;
      return { server, ca: readFileSync(`${SERVICE_ACCOUNT}/ca.crt`), ...withTokens(tokenFile(`${SERVICE_ACCOUNT}/token`)) };
    }
    case 'eks':
      return { server: access.server, ca: Buffer.from(access.caData, 'base64'), ...withTokens(access.tokens) };
  }
}

/** A token source as the KubeClient asks it: for every request, and again after a 401. */
function withTokens(source: TokenSource): Pick<ClusterEndpoint, 'token' | 'tokenRejected'> {
  return { token: () => source.token(), tokenRejected: source.rejected && ((token) => source.rejected!(token)) };
}

/** A file's content given as inline base64 data or as a (resolved) path. */
function material(data: string | undefined, path: string | undefined): Buffer | undefined {
  if (data) return Buffer.from(data, 'base64');
  if (path) return readFileSync(path);
  return undefined;
}

/** The endpoint of the kubeconfigs' current context (or `context`). */
export function fromKubeconfig(sources: KubeconfigSource[], context?: string): ClusterEndpoint {
  const { cluster, user } = resolveContext(sources, context);
  const ca = material(cluster['certificate-authority-data'], cluster['certificate-authority']);
  const exec = user.exec && new ExecTokenSource(user.exec, { cluster: execClusterInfo(cluster, ca) });
  return {
    server: cluster.server!,
    ca,
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    tlsServerName: cluster['tls-server-name'],
    cert: material(user['client-certificate-data'], user['client-certificate']),
    key: material(user['client-key-data'], user['client-key']),
    headers: impersonation(user),
    ...(exec ? withTokens(exec) : { token: userToken(user) }),
  };
}

function userToken(user: KubeconfigUser): ClusterEndpoint['token'] {
  if (user.token) return async () => user.token;
  if (user.tokenFile) return tokenFile(user.tokenFile).token;
  return undefined;
}

/** A token kept in a file (a projected service account token), read again once a minute and after a 401. */
function tokenFile(path: string): TokenSource {
  let cached: { token: string; at: number } | undefined;
  return {
    token: async () => {
      if (!cached || Date.now() - cached.at > TOKEN_FILE_REREAD_MS) cached = { token: readFileSync(path, 'utf8').trim(), at: Date.now() };
      return cached.token;
    },
    rejected: (token) => {
      if (cached?.token === token) cached = undefined;
      return true;
    },
  };
}

/** The impersonation headers client-go sends for `as`, `as-uid`, `as-groups` and `as-user-extra`. */
export function impersonation(user: KubeconfigUser): Record<string, string | string[]> | undefined {
  const groups = user['as-groups'] ?? [];
  const grouped: Record<string, string[]> = groups.length > 0 ? { 'impersonate-group': groups } : {};
  const extra = Object.entries(user['as-user-extra'] ?? {});
  const uid: Record<string, string> = user['as-uid'] ? { 'impersonate-uid': user['as-uid'] } : {};
  if (!user.as) {
    // The API server refuses these without a user to impersonate.
    if ('impersonate-uid' in uid || groups.length > 0 || extra.length > 0) throw new KubeconfigError('the kubeconfig sets as-uid, as-groups or as-user-extra without as (the user to impersonate)');
    return undefined;
  }
  return {
    'impersonate-user': user.as,
    ...uid,
    ...grouped,
    ...Object.fromEntries(extra.map(([key, values]) => [`impersonate-extra-${headerKeyEscape(key)}`, values])),
  };
}

/** client-go's headerKeyEscape: bytes that may not appear in a header name, and `%`, percent-encoded. */
function headerKeyEscape(key: string): string {
  return [...Buffer.from(key, 'utf8')].map((byte) => (/^[!#$&'*+\-.^_`|~0-9A-Za-z]$/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}
