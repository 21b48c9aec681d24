// A connection to the API server that silently dies (a NAT or load balancer forgets it) must not
// hang a function until Lambda kills it: the request fails as transient, and the next one works.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApi } from '../../functions/core/kube-api.js';
import { NoAnswerError } from '../../functions/core/kube-client.js';
import { reconcile } from '../../functions/core/reconciler.js';
import { FreezableProxy } from '../support/freezable-proxy.js';
import { adminKubeClient, createNamespace, deleteNamespace, installCrd, kubeconfigPath } from '../support/kube.js';
import { createCr, silentLog } from '../support/operator.js';

let namespace: string;
let proxy: FreezableProxy;

beforeAll(async () => {
  await installCrd();
  namespace = await createNamespace('connections');
  const server = new URL(adminKubeClient().endpoint.server);
  proxy = await FreezableProxy.start({ host: server.hostname, port: Number(server.port) });
});
afterAll(async () => {
  await proxy.close();
  await deleteNamespace(namespace);
});

describe('when the connection to the API server goes silent', () => {
  it('fails the reconcile as transient, then reconciles on a fresh connection', async () => {
    await createCr(namespace, 'silent');
    const api = new KubeApi(adminKubeClient({ kubeconfig: proxy.kubeconfigFor(kubeconfigPath()), timeoutMs: 1000 }));
    await reconcile({ api, log: silentLog }, { namespace, name: 'silent' });
    expect(proxy.freezeOpenConnections()).toBeGreaterThan(0);

    await expect(reconcile({ api, log: silentLog }, { namespace, name: 'silent' })).rejects.toBeInstanceOf(NoAnswerError);

    await expect(reconcile({ api, log: silentLog }, { namespace, name: 'silent' })).resolves.toMatchObject({ outcome: 'converged' });
  });
});
