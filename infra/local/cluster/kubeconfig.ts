// The admin's kubeconfig for the local control plane, trusting the cluster's CA.
import { dumpYaml, KubeConfig } from '@kubernetes/client-node';
import { readFileSync, writeFileSync } from 'node:fs';
import { clusterFiles } from './layout.js';
import type { ClusterState } from './state.js';

export function adminKubeConfig(state: Pick<ClusterState, 'server' | 'adminToken'>): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'local', server: state.server, caData: readFileSync(clusterFiles.ca).toString('base64') }],
    users: [{ name: 'admin', token: state.adminToken }],
    contexts: [{ name: 'local', cluster: 'local', user: 'admin', namespace: 'default' }],
    currentContext: 'local',
  });
  return config;
}

export function writeKubeconfig(state: ClusterState): void {
  // exportConfig leaves unset fields undefined; the JSON round trip drops them.
  const plain = JSON.parse(adminKubeConfig(state).exportConfig()) as object;
  writeFileSync(state.kubeconfig, dumpYaml(plain), { mode: 0o600 });
}
