// The forwarder as the local stage deploys it, as users do: its image built without Docker and
// loaded into the node, then `kubectl apply -k` of a kustomization over infra/local/forwarder that
// adds what only this run knows (the bus's endpoint, name and region, dummy credentials), and a
// wait for the rollout. Removing it deletes the Deployment (its pods stop) and keeps the
// namespace, the ServiceAccount and the RBAC, which cost nothing.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { realNodeNamespace, type ClusterState } from './cluster/index.js';
import { repoRoot } from './cluster/layout.js';
import { buildImage, forwarderImage, loadIntoNode, type ImageSource } from './images/index.js';

export const forwarderNamespace = 'kindcustomhttp-forwarder';
export const forwarderDeployment = 'kindcustomhttp-forwarder';
const overlay = join(repoRoot, 'infra/local/forwarder');

export interface ForwarderPodsOptions {
  /** kubectl against the cluster, failing on a non-zero exit; returns its standard output. */
  kubectl: (args: string[]) => Promise<string>;
  /** Loads an image into the node's container runtime. */
  loadImage: (source: ImageSource) => Promise<void>;
  /** Where this run's kustomization is written. */
  dir: string;
  /** The forwarder's settings only this run knows (EVENTBRIDGE_ENDPOINT, EVENT_BUS_NAME, ...). */
  env: Record<string, string>;
  /** Annotations of the forwarder's namespace: the cluster's way of sending its pods to the real node. */
  namespaceAnnotations: Record<string, string>;
  rolloutTimeoutSeconds?: number;
}

/** What the local stack needs to deploy the forwarder onto the local cluster's real node. */
export function forwarderPodsSetup(state: ClusterState) {
  if (!state.node) throw new Error('the local cluster has no real node to run the forwarder on');
  return {
    busHost: state.node.hostIp,
    kubectl: join(state.binDir, 'kubectl'),
    // The node keeps its images while it runs: an unchanged image is not loaded again.
    loadImage: async (source: ImageSource) => loadIntoNode(state, source),
    namespaceAnnotations: realNodeNamespace(forwarderNamespace).metadata.annotations,
  };
}

/**
 * This run's kustomization in `dir`: infra/local/forwarder, its ConfigMap merged with `env`, its
 * namespace annotated. JSON is YAML, so it is written as JSON.
 */
export function runKustomization(dir: string, env: Record<string, string>, namespaceAnnotations: Record<string, string>): string {
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: [relative(dir, overlay)],
    configMapGenerator: [
      { name: 'forwarder-config', namespace: forwarderNamespace, behavior: 'merge', literals: Object.entries(env).map(([name, value]) => `${name}=${value}`) },
    ],
    patches: [{ patch: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: forwarderNamespace, annotations: namespaceAnnotations } }) }],
  };
  return `# Written by infra/local/forwarder-pods.ts for one run of the local stack.\n${JSON.stringify(kustomization, null, 2)}\n`;
}

/** Builds and loads the image, applies the kustomization and waits until every replica is ready. */
export async function deployForwarderPods(options: ForwarderPodsOptions): Promise<void> {
  await options.loadImage(await buildImage(forwarderImage));
  mkdirSync(options.dir, { recursive: true });
  writeFileSync(join(options.dir, 'kustomization.yaml'), runKustomization(options.dir, options.env, options.namespaceAnnotations));
  await options.kubectl(['apply', '-k', options.dir]);
  // A changed ConfigMap has a new name (kustomize's hash), so the pods roll when the endpoint moves.
  await options.kubectl(['-n', forwarderNamespace, 'rollout', 'status', `deployment/${forwarderDeployment}`, `--timeout=${options.rolloutTimeoutSeconds ?? 180}s`]);
}

/** Deletes the Deployment and waits for its pods to go (foreground: the Deployment goes last). */
export async function removeForwarderPods(kubectl: ForwarderPodsOptions['kubectl']): Promise<void> {
  await kubectl(['-n', forwarderNamespace, 'delete', 'deployment', forwarderDeployment, '--ignore-not-found', '--cascade=foreground', '--wait=true', '--timeout=90s']);
}
