// A kubeconfig read as client-go's clientcmd reads it, down to the one context in use: several files
// in KUBECONFIG (`a:b`) merged, the first file to name a cluster, user or context winning; relative
// paths resolved against the folder of the file that holds them, and an exec plugin's command too
// when it has a path separator in it (a bare name is looked up in PATH). What the functions cannot
// honour is refused here, by name, before any request: a client that acted as someone else than
// the kubeconfig says, or skipped its proxy, would be worse than one that does not start.
// auth-provider and proxy-url are refused rather than supported in a chunk of their own (which the
// EKS and in-cluster paths would never load): openid-client is 21 KiB minified and 24 ms to load,
// https-proxy-agent with socks-proxy-agent 88 KiB and 77 ms (medians of 15 imports), in every
// package, for kubeconfigs the functions rarely meet; and an OIDC refresh token that the identity
// provider rotates cannot be written back to a kubeconfig kept in Secrets Manager, as client-go
// writes it back to the file.
import { readFileSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { load } from 'js-yaml';

export class KubeconfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KubeconfigError';
  }
}

export interface KubeconfigCluster {
  server?: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
  'proxy-url'?: string;
  'disable-compression'?: boolean;
  extensions?: Array<{ name: string; extension: unknown }>;
}

export interface ExecConfig {
  apiVersion?: string;
  command: string;
  args?: string[];
  env?: Array<{ name: string; value: string }> | null;
  installHint?: string;
  provideClusterInfo?: boolean;
  interactiveMode?: 'Never' | 'IfAvailable' | 'Always';
}

export interface KubeconfigUser {
  token?: string;
  tokenFile?: string;
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  exec?: ExecConfig;
  'auth-provider'?: { name?: string };
  username?: string;
  password?: string;
  as?: string;
  'as-uid'?: string;
  'as-groups'?: string[];
  'as-user-extra'?: Record<string, string[]>;
}

interface KubeconfigFile {
  'current-context'?: string;
  clusters?: Array<{ name: string; cluster: KubeconfigCluster }> | null;
  users?: Array<{ name: string; user: KubeconfigUser }> | null;
  contexts?: Array<{ name: string; context: { cluster: string; user: string } }> | null;
}

/** The cluster and user of one context, their relative paths already resolved. */
export interface ResolvedContext {
  clusterName: string;
  userName: string;
  cluster: KubeconfigCluster;
  user: KubeconfigUser;
}

/** One kubeconfig's text with the folder its relative paths are relative to. */
export interface KubeconfigSource {
  text: string;
  base: string;
}

/** The files of a KUBECONFIG value (`a:b:c`), as client-go loads them: empty entries and missing files skipped. */
export function readKubeconfigFiles(paths: string): KubeconfigSource[] {
  const sources: KubeconfigSource[] = [];
  const names = paths.split(delimiter).filter((path) => path !== '');
  for (const path of names) {
    try {
      sources.push({ text: readFileSync(path, 'utf8'), base: dirname(resolve(path)) });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  if (sources.length === 0) throw new KubeconfigError(`no kubeconfig file exists of ${JSON.stringify(paths)}`);
  return sources;
}

/** The context `context` (else the current one) of the merged kubeconfigs, checked for what we cannot honour. */
export function resolveContext(sources: KubeconfigSource[], context?: string): ResolvedContext {
  const files = sources.map(({ text, base }) => ({ config: (load(text) ?? {}) as KubeconfigFile, base }));
  const contextName = context ?? files.map(({ config }) => config['current-context']).find(Boolean);
  if (!contextName) throw new KubeconfigError('the kubeconfig has no current-context');
  const { cluster: clusterName, user: userName } = first(files, (config) => config.contexts, contextName, 'context').entry.context;
  const cluster = first(files, (config) => config.clusters, clusterName, 'cluster');
  const user = first(files, (config) => config.users, userName, 'user');
  const resolved = {
    clusterName,
    userName,
    cluster: resolveClusterPaths(cluster.entry.cluster ?? {}, cluster.base),
    user: resolveUserPaths(user.entry.user ?? {}, user.base),
  };
  refuseUnsupported(resolved);
  return resolved;
}

/** The first file's entry of that name, as client-go's merge keeps it. */
function first<T extends { name: string }>(files: Array<{ config: KubeconfigFile; base: string }>, list: (config: KubeconfigFile) => T[] | null | undefined, name: string, what: string): { entry: T; base: string } {
  for (const { config, base } of files) {
    const entry = list(config)?.find((candidate) => candidate.name === name);
    if (entry) return { entry, base };
  }
  throw new KubeconfigError(`the kubeconfig has no ${what} named ${JSON.stringify(name)}`);
}

/** client-go's ResolvePaths: empty and absolute paths stay, others are joined to the file's folder. */
function resolvePath(path: string | undefined, base: string): string | undefined {
  return path && !isAbsolute(path) ? join(base, path) : path;
}

function resolveClusterPaths(cluster: KubeconfigCluster, base: string): KubeconfigCluster {
  return { ...cluster, 'certificate-authority': resolvePath(cluster['certificate-authority'], base) };
}

function resolveUserPaths(user: KubeconfigUser, base: string): KubeconfigUser {
  const exec = user.exec && { ...user.exec, command: user.exec.command.includes(sep) ? resolvePath(user.exec.command, base)! : user.exec.command };
  return {
    ...user,
    tokenFile: resolvePath(user.tokenFile, base),
    'client-certificate': resolvePath(user['client-certificate'], base),
    'client-key': resolvePath(user['client-key'], base),
    exec,
  };
}

/** The exec credential API versions client-go still speaks. */
export const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

function refuseUnsupported({ clusterName, userName, cluster, user }: ResolvedContext): void {
  const inCluster = `cluster ${JSON.stringify(clusterName)}`;
  const inUser = `user ${JSON.stringify(userName)}`;
  if (!cluster.server) throw new KubeconfigError(`${inCluster} has no server`);
  if (cluster['proxy-url']) {
    throw new KubeconfigError(`${inCluster} sets proxy-url, which is not supported: reach the API server directly (from a VPC, or through a NAT gateway)`);
  }
  const provider = user['auth-provider'];
  if (provider) {
    throw new KubeconfigError(`${inUser} uses auth-provider ${JSON.stringify(provider.name ?? '')}, which is not supported: use an exec plugin (kubelogin for OIDC), a token or a client certificate`);
  }
  if (user.username || user.password) throw new KubeconfigError(`${inUser} uses basic auth (username/password), which Kubernetes no longer accepts`);
  if (user.exec) refuseUnsupportedExec(inUser, user.exec);
}

function refuseUnsupportedExec(inUser: string, exec: ExecConfig): void {
  if (!exec.apiVersion || !EXEC_API_VERSIONS.includes(exec.apiVersion)) {
    throw new KubeconfigError(`${inUser}'s exec plugin has apiVersion ${JSON.stringify(exec.apiVersion ?? '')}; supported: ${EXEC_API_VERSIONS.join(', ')}`);
  }
  // client-go defaults a v1beta1 plugin's mode to IfAvailable and requires v1 to say it.
  const mode = exec.interactiveMode ?? (exec.apiVersion === 'client.authentication.k8s.io/v1beta1' ? 'IfAvailable' : undefined);
  if (!mode || !['Never', 'IfAvailable', 'Always'].includes(mode)) {
    throw new KubeconfigError(`${inUser}'s exec plugin has interactiveMode ${JSON.stringify(mode ?? '')}: it must be Never, IfAvailable or Always (required with ${exec.apiVersion})`);
  }
  if (mode === 'Always') {
    throw new KubeconfigError(`${inUser}'s exec plugin has interactiveMode Always, and this process has no terminal: it cannot support interactive mode`);
  }
}
