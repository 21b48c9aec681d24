// npm start: the whole system on this machine. Starts the local control plane (or uses the cluster
// in KUBECONFIG), installs the CRD, runs the functions under osls offline and the forwarder,
// applies the original sample CR, and shows what happens until Ctrl-C stops everything it started.
// package.json runs it as `node --import tsx`, not through the tsx CLI: on a terminal's Ctrl-C the
// CLI, which gets the SIGINT too, may SIGKILL this process (it waits only 30 ms to hear that the
// signal was handled), and then nothing stops the processes started here.
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, KubernetesObjectApi, loadAllYaml, PatchStrategy, type KubernetesObject, type V1Deployment, type V1Pod, type V1Service } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GROUP, PLURAL, VERSION, type KindCustomHttp } from '../../functions/core/kindcustomhttp.js';
import { clusterDir, down, realNodeNamespace, runningCluster, up, type ClusterState } from './cluster/index.js';
import { installCrd } from './crd.js';
import { forwarderPodsSetup } from './forwarder-pods.js';
import { peerServerImage, provideImage } from './images/index.js';
import { functionsKubeconfig, installReconcilerAccess } from './reconciler-access.js';
import { Progress } from './progress.js';
import { LocalStack, type ForwarderPodsSetup } from './stack.js';

// The original operator's sample CR, kept in the repository.
const samplePath = 'infra/local/sample-kindcustomhttp.yaml';

const started = Date.now();
const say = (text: string) => console.log(`${((Date.now() - started) / 1000).toFixed(2).padStart(7)}s  ${text}`);

const given = process.env.KUBECONFIG;
const ownCluster = !given && !runningCluster();
let stack: LocalStack | undefined;
let stopping = false;

/**
 * Stops what this run started: the forwarder, the functions, and the control plane if it started
 * it. A failure to stop one part is reported and the others are still stopped.
 */
async function stopAll(reason: string, exitCode: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say(`${reason}: stopping the forwarder and the functions${ownCluster ? ' and the control plane' : ''}`);
    const failed = (what: string) => (error: unknown) => {
      console.error(`npm start: stopping ${what} failed`, error);
      exitCode = 1;
    };
    await stack?.stop().catch(failed('the local stack'));
    if (ownCluster) await down().catch(failed('the control plane'));
    say('stopped');
  }
  process.exit(exitCode);
}

/** The cluster in KUBECONFIG, or the local one (started unless running), and where the forwarder goes. */
async function cluster(): Promise<{ kubeconfig: string; state?: ClusterState; pods?: ForwarderPodsSetup }> {
  if (given) {
    say(`cluster    using KUBECONFIG=${given}`);
    return { kubeconfig: given };
  }
  const state = await up((line) => say(`cluster    ${line}`));
  // The forwarder runs as users run it, in pods on the real node, unless FORWARDER=process asks
  // for a process on this host (to debug it).
  return { kubeconfig: state.kubeconfig, state, pods: state.node && process.env.FORWARDER !== 'process' ? forwarderPodsSetup(state) : undefined };
}

/**
 * The sample's namespace: on the local cluster, one whose pods run on the real node, with the
 * project's peer server image loaded there (the local stage's DEFAULT_IMAGE, serverless.yml).
 */
async function sampleNamespace(config: KubeConfig, name: string, state: ClusterState | undefined): Promise<void> {
  const realNode = state?.node !== undefined;
  if (realNode) {
    const image = await provideImage(state!, peerServerImage);
    say(`image      ${image.reference} built and loaded into the real node`);
  }
  const body = realNode ? realNodeNamespace(name) : { metadata: { name } };
  await config.makeApiClient(CoreV1Api).createNamespace({ body }).catch(() => undefined);
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void stopAll('SIGINT', 0));
  process.on('SIGTERM', () => void stopAll('SIGTERM', 0));
  const { kubeconfig, state, pods } = await cluster();

  await installCrd(kubeconfig);
  say('crd        kindcustomhttps.groupsp.measutosh.dev installed');
  const asFunctions = await installAccess(kubeconfig);
  const progress = new Progress();
  stack = await LocalStack.start({
    kubeconfig,
    functionsKubeconfig: asFunctions,
    logDir: join(clusterDir, 'logs', 'local-stack'),
    forwarderPods: pods,
    onLine: (line) => {
      const entry = progress.describe(line);
      if (entry) say(entry.text);
    },
  });
  say(`stack      functions under osls offline, bus and queue emulated at ${stack.busUrl}, ${stack.forwarderPlace}`);

  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  const sample = loadAllYaml(readFileSync(samplePath, 'utf8'))[0] as KubernetesObject & KindCustomHttp;
  const { namespace, name } = sample.metadata;
  await sampleNamespace(config, namespace, state);
  const custom = config.makeApiClient(CustomObjectsApi);
  const ref = { group: GROUP, version: VERSION, plural: PLURAL, namespace, name };
  const existed = await custom.getNamespacedCustomObject(ref).then(() => true, () => false);
  const applied = Date.now();
  const result = (await KubernetesObjectApi.makeApiClient(config).patch(sample, undefined, undefined, 'kubectl', true, PatchStrategy.ServerSideApply)) as KindCustomHttp;
  say(`apply      ${namespace}/${name} from ${samplePath}${existed ? ' (it existed already)' : ''}`);

  // Ready for the spec just applied, not for an older one.
  const generation = result.metadata.generation;
  for (;;) {
    const cr = (await custom.getNamespacedCustomObject(ref)) as KindCustomHttp;
    if (cr.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === generation)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  say(`converged  ${namespace}/${name} generation ${generation} is Ready ${Date.now() - applied} ms after kubectl apply\n`);
  await printState(config, namespace, name);
  console.log(walkthrough(kubeconfig, state, namespace, name));
}

/**
 * Installs infra/reconciler; returns the kubeconfig the functions act with: their own identity,
 * held by its RBAC and admission policy as on AWS, or on a cluster of your own FUNCTIONS_KUBECONFIG
 * (a user in group stimulated-peering:reconciler), else KUBECONFIG's user.
 */
async function installAccess(kubeconfig: string): Promise<string> {
  const own = functionsKubeconfig(given);
  await installReconcilerAccess(kubeconfig, own);
  say(`access     infra/reconciler installed; the functions act as ${own ?? `KUBECONFIG's user (set FUNCTIONS_KUBECONFIG to act as group stimulated-peering:reconciler)`}`);
  return own ?? kubeconfig;
}

/** The original project's walkthrough, as commands that work against this cluster. */
function walkthrough(kubeconfig: string, state: ClusterState | undefined, namespace: string, name: string): string {
  const lines = [
    '',
    'Running. In another terminal:',
    `  export KUBECONFIG=${kubeconfig}`,
    ...(state ? [`  export PATH=${state.binDir}:$PATH`] : []),
    `  kubectl -n ${namespace} get kch,deploy,svc,cm,pods -o wide`,
  ];
  if (state?.node) {
    const pods = `kubectl -n ${namespace} get pods -l app.kubernetes.io/instance=${name}`;
    lines.push(
      `  POD=$(${pods} -o jsonpath='{.items[0].metadata.name}'); OTHER_IP=$(${pods} -o jsonpath='{.items[1].status.podIP}')`,
      `  kubectl -n ${namespace} exec $POD -- curl -s $OTHER_IP:8080/ping     # pong from the other pod`,
      `  kubectl -n ${namespace} exec $POD -- curl -s ${name}/ping            # through the Service, port 80`,
      `  kubectl -n ${namespace} logs -f $POD                                  # pongs every 30 s`,
      `  kubectl -n ${namespace} patch kch ${name} --type=merge -p '{"spec":{"configMapData":{"hostports":"${name},80\\n${name}.${namespace}.svc.cluster.local,8080\\n"}}}'`,
      `  kubectl -n ${namespace} scale kch ${name} --replicas=3`,
    );
  }
  lines.push('Edit, scale or delete things and watch them converge here. Ctrl-C stops everything.', '');
  return lines.join('\n');
}

async function printState(config: KubeConfig, namespace: string, name: string): Promise<void> {
  const apps = config.makeApiClient(AppsV1Api);
  const core = config.makeApiClient(CoreV1Api);
  const cr = (await config.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name })) as KindCustomHttp;
  const deployment = await apps.readNamespacedDeployment({ namespace, name });
  const pods = await core.listNamespacedPod({ namespace, labelSelector: `app.kubernetes.io/instance=${name}` });
  const service = await core.readNamespacedService({ namespace, name });
  const configMap = await core.readNamespacedConfigMap({ namespace, name: `${name}-configmap` });
  const lines = [...deploymentLines(deployment, pods.items), serviceLine(service), `  ConfigMap ${configMap.metadata?.name}: ${JSON.stringify(configMap.data)}`, ...statusLines(cr)];
  console.log(lines.join('\n'));
}

function deploymentLines(deployment: V1Deployment, pods: V1Pod[]): string[] {
  const image = deployment.spec?.template.spec?.containers[0]?.image;
  return [
    `  Deployment ${deployment.metadata?.name}: ${deployment.status?.readyReplicas ?? 0}/${deployment.spec?.replicas} ready, image ${image}`,
    ...pods.map((pod) => `    Pod ${pod.metadata?.name}: ${pod.status?.phase}, ${pod.status?.podIP}`),
  ];
}

function serviceLine(service: V1Service): string {
  const port = service.spec?.ports?.[0];
  return `  Service ${service.metadata?.name}: ${service.spec?.clusterIP}:${port?.port} -> ${port?.targetPort}`;
}

function statusLines(cr: KindCustomHttp): string[] {
  const status = cr.status;
  return [
    `  Status: observedGeneration ${status?.observedGeneration}, ${status?.readyReplicas}/${status?.replicas} ready`,
    ...(status?.conditions ?? []).map((c) => `    ${c.type}=${c.status} (${c.reason}: ${c.message})`),
  ];
}

main().catch(async (error: unknown) => {
  console.error('npm start failed:', error);
  await stopAll('failure', 1);
});
