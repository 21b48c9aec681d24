// A connection to the API server that silently dies (a NAT or load balancer forgets it) must not
// hang a function until Lambda kills it: the request fails as transient, and the next one works.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadClusterConfig } from '../../functions/core/cluster-access.js';
import { KubeApi, TransientApiError } from '../../functions/core/kube-api.js';
import { reconcile } from '../../functions/core/reconciler.js';
import { FreezableProxy } from '../support/freezable-proxy.js';
import { createNamespace, deleteNamespace, installCrd, kubeconfigPath } from '../support/kube.js';
import { createCr, silentLog } from '../support/operator.js';

let namespace: string;
let proxy: FreezableProxy;

beforeAll(async () => {
  await installCrd();
  namespace = await createNamespace('connections');
  const server = new URL(loadClusterConfig({ mode: 'kubeconfig', path: kubeconfigPath() }).getCurrentCluster()!.server);
  proxy = await FreezableProxy.start({ host: server.hostname, port: Number(server.port) });
});
afterAll(async () => {
  await proxy.close();
  await deleteNamespace(namespace);
});

describe('when the connection to the API server goes silent', () => {
  it('fails the reconcile as transient, then reconciles on a fresh connection', async () => {
    await createCr(namespace, 'silent');
    const api = new KubeApi(loadClusterConfig({ mode: 'kubeconfig', path: proxy.kubeconfigFor(kubeconfigPath()) }, undefined, 1000));
    await reconcile({ api, log: silentLog }, { namespace, name: 'silent' });
    expect(proxy.freezeOpenConnections()).toBeGreaterThan(0);

    await expect(reconcile({ api, log: silentLog }, { namespace, name: 'silent' })).rejects.toBeInstanceOf(TransientApiError);

    await expect(reconcile({ api, log: silentLog }, { namespace, name: 'silent' })).resolves.toMatchObject({ outcome: 'converged' });
  });
});
