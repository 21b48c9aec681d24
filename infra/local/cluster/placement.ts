// Which pods run for real: KWOK's fake node takes every pod (it has room for the benchmarks'
// thousands), except those of namespaces made by realNodeNamespace, which go to the real node.
// The apiserver's admission plugins do it, so nothing in a pod's spec has to know:
// - PodNodeSelector gives every pod its namespace's node selector (the annotation below), and the
//   cluster default `type=kwok` to pods of namespaces without one;
// - PodTolerationRestriction gives pods of a real-node namespace the toleration of the real node's
//   taint, which keeps every other pod off it.
import { writeFileSync } from 'node:fs';
import { clusterFiles } from './layout.js';
import { realNodeLabel } from './node.js';

export const realNodeTaint = { key: 'node.stimulated-peering.dev/real', value: 'true', effect: 'NoSchedule' } as const;

const nodeSelectorAnnotation = 'scheduler.alpha.kubernetes.io/node-selector';
const tolerationsAnnotation = 'scheduler.alpha.kubernetes.io/defaultTolerations';

/** A namespace whose pods run on the real node: containers start, probes and Services work. */
export function realNodeNamespace(name: string, labels: Record<string, string> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      labels,
      annotations: {
        [nodeSelectorAnnotation]: `${realNodeLabel.key}=${realNodeLabel.value}`,
        [tolerationsAnnotation]: JSON.stringify([{ key: realNodeTaint.key, operator: 'Equal', value: realNodeTaint.value, effect: realNodeTaint.effect }]),
      },
    },
  };
}

/** The plugins' configuration, which the apiserver reads at start (--admission-control-config-file). */
export function writeAdmissionConfig(): void {
  writeFileSync(clusterFiles.podNodeSelectorConfig, `podNodeSelectorPluginConfig:\n  clusterDefaultNodeSelector: "type=kwok"\n`);
  writeFileSync(
    clusterFiles.admissionConfig,
    `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodNodeSelector
  path: ${clusterFiles.podNodeSelectorConfig}
`,
  );
}

export const admissionPlugins = ['NodeRestriction', 'PodNodeSelector', 'PodTolerationRestriction'];

/** What CoreDNS reads to answer for Services and pods; its user is the one node.ts gives it a token for. */
export const corednsRbac = [
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'stimulated-peering:coredns' },
    rules: [
      { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
    ],
  },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'stimulated-peering:coredns' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'stimulated-peering:coredns' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'stimulated-peering:coredns' }],
  },
];
