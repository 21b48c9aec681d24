// The kubeconfigs of the local control plane, trusting the cluster's CA: the admin's, and the
// functions' identity's (group stimulated-peering:reconciler).
import { dumpYaml, KubeConfig } from '@kubernetes/client-node';
import { readFileSync, writeFileSync } from 'node:fs';
import { reconcilerUser } from './credentials.js';
import { clusterFiles } from './layout.js';
import type { ClusterState } from './state.js';

function kubeConfigFor(server: string, user: string, token: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'local', server, caData: readFileSync(clusterFiles.ca).toString('base64') }],
    users: [{ name: user, token }],
    contexts: [{ name: 'local', cluster: 'local', user, namespace: 'default' }],
    currentContext: 'local',
  });
  return config;
}

export function adminKubeConfig(state: Pick<ClusterState, 'server' | 'adminToken'>): KubeConfig {
  return kubeConfigFor(state.server, 'admin', state.adminToken);
}

function write(path: string, config: KubeConfig): void {
  // exportConfig leaves unset fields undefined; the JSON round trip drops them.
  const plain = JSON.parse(config.exportConfig()) as object;
  writeFileSync(path, dumpYaml(plain), { mode: 0o600 });
}

export function writeKubeconfig(state: ClusterState): void {
  write(state.kubeconfig, adminKubeConfig(state));
  write(clusterFiles.reconcilerKubeconfig, kubeConfigFor(state.server, reconcilerUser.name, state.reconcilerToken));
}
