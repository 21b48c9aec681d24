// Helpers for tests against the real control plane: clients, kubectl, namespaces, polling, and
// identities with only the permissions a test grants them.
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1PolicyRule,
} from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inject } from 'vitest';
import { clusterEndpoint } from '../../functions/core/cluster-endpoint.js';
import { KubeClient } from '../../functions/core/kube-client.js';
import { apiserverRequests as countApiserverRequests, type RequestLabels } from '../../infra/local/apiserver-metrics.js';
import { kubectl as runKubectl, kubectlOk as runKubectlOk, type KubectlResult } from '../../infra/local/cluster/index.js';
import { crdPath, installCrd as installCrdOn } from '../../infra/local/crd.js';

export function kubeconfigPath(): string {
  return inject('kubeconfig');
}

/** The kubeconfig of the functions' identity: group stimulated-peering:reconciler, under infra/reconciler's RBAC and admission policy. */
export function reconcilerKubeconfigPath(): string {
  return inject('reconcilerKubeconfig');
}

/** A client-node config acting as the functions' identity. */
export function reconcilerConfig(): KubeConfig {
  const config = new KubeConfig();
  config.loadFromFile(reconcilerKubeconfigPath());
  return config;
}

/** The operator's own client acting as the functions' identity. */
export function reconcilerKubeClient(options: { timeoutMs?: number } = {}): KubeClient {
  return adminKubeClient({ ...options, kubeconfig: reconcilerKubeconfigPath() });
}

/** A client-node config for the test cluster's admin, for the typed clients tests arrange with. */
export function adminConfig(): KubeConfig {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfigPath());
  return config;
}

/** The operator's own client as the test cluster's admin. */
export function adminKubeClient(options: { timeoutMs?: number; kubeconfig?: string } = {}): KubeClient {
  return new KubeClient(clusterEndpoint({ mode: 'kubeconfig', path: options.kubeconfig ?? kubeconfigPath() }), { timeoutMs: options.timeoutMs ?? 10_000 });
}

export function adminClients(config: KubeConfig = adminConfig()) {
  return {
    config,
    core: config.makeApiClient(CoreV1Api),
    apps: config.makeApiClient(AppsV1Api),
    custom: config.makeApiClient(CustomObjectsApi),
    rbac: config.makeApiClient(RbacAuthorizationV1Api),
  };
}

/** Runs kubectl against the test cluster; resolves with its exit code rather than throwing. */
export function kubectl(args: string[], input?: string, kubeconfig = kubeconfigPath()): Promise<KubectlResult> {
  return runKubectl(inject('kubectl'), kubeconfig, args, input);
}

/** kubectl that must succeed; returns its standard output. */
export function kubectlOk(args: string[], input?: string, kubeconfig = kubeconfigPath()): Promise<string> {
  return runKubectlOk(inject('kubectl'), kubeconfig, args, input);
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** Creates a namespace of its own for a test; returns its name. */
export async function createNamespace(prefix = 'test'): Promise<string> {
  const name = uniqueName(prefix);
  await adminClients().core.createNamespace({ body: { metadata: { name, labels: { 'stimulated-peering.test': 'true' } } } });
  return name;
}

export async function deleteNamespace(name: string): Promise<void> {
  await adminClients().core.deleteNamespace({ name }).catch(() => undefined);
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(
  description: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 60_000, intervalMs = 200 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const CRD_PATH = crdPath;
/** The schema-less CRD the original operator installed (test data). */
export const ORIGINAL_CRD_PATH = new URL('../fixtures/original-crd.yaml', import.meta.url).pathname;
/** The original operator's sample CR, which `npm start` applies too. */
export const ORIGINAL_SAMPLE_PATH = new URL('../../infra/local/sample-kindcustomhttp.yaml', import.meta.url).pathname;

/** The original sample CR, unchanged but for its namespace. */
export function originalSample(namespace: string): string {
  return readFileSync(ORIGINAL_SAMPLE_PATH, 'utf8').replace(/namespace: peerns/, `namespace: ${namespace}`);
}

/** Installs the project's CRD (or the one at `path`) on the test cluster and waits until it is served. */
export function installCrd(path = CRD_PATH): Promise<void> {
  return installCrdOn(kubeconfigPath(), path);
}

/**
 * A ServiceAccount in `namespace` bound to exactly `rules` (namespaced, or cluster-wide when
 * `clusterWide`), and a KubeConfig that acts as it with a real token from the TokenRequest API.
 */
export async function restrictedIdentity(namespace: string, rules: V1PolicyRule[], clusterWide = false): Promise<{ config: KubeConfig; user: string }> {
  const { core, rbac } = adminClients();
  const name = uniqueName('restricted');
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  const subject = { kind: 'ServiceAccount', name, namespace };
  if (clusterWide) {
    await rbac.createClusterRole({ body: { metadata: { name: `${namespace}-${name}` }, rules } });
    await rbac.createClusterRoleBinding({
      body: { metadata: { name: `${namespace}-${name}` }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${namespace}-${name}` }, subjects: [subject] },
    });
  } else {
    await rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules } });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: { metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects: [subject] },
    });
  }
  return { config: await serviceAccountConfig(namespace, name), user: `system:serviceaccount:${namespace}:${name}` };
}

/** A real token of an existing ServiceAccount, from the TokenRequest API. */
export async function serviceAccountToken(namespace: string, name: string): Promise<string> {
  const token = await adminClients().core.createNamespacedServiceAccountToken({ namespace, name, body: { spec: { expirationSeconds: 3600, audiences: [] } } });
  return token.status!.token!;
}

/** A client-node KubeConfig acting as an existing ServiceAccount. */
export async function serviceAccountConfig(namespace: string, name: string): Promise<KubeConfig> {
  const admin = adminConfig();
  const config = new KubeConfig();
  config.loadFromClusterAndUser(admin.getCurrentCluster()!, { name, token: await serviceAccountToken(namespace, name) });
  return config;
}

/** The operator's own client acting as an existing ServiceAccount. */
export async function serviceAccountClient(namespace: string, name: string): Promise<KubeClient> {
  return adminKubeClient().withToken(await serviceAccountToken(namespace, name));
}

/** The apiserver's own count of requests matching `labels` (apiserver_request_total), e.g. `{ verb: 'APPLY' }`. */
export function apiserverRequests(labels: RequestLabels): Promise<number> {
  return countApiserverRequests(adminKubeClient(), labels);
}
