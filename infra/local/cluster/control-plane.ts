// The local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and KWOK,
// each a process of the binaries build.sh builds. `up` starts them on free loopback ports and waits
// until a fake node is Ready; `down` stops exactly the processes `up` recorded.
import { CoreV1Api, Health } from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { clusterEndpoint } from '../../../functions/core/cluster-endpoint.js';
import { KubeClient } from '../../../functions/core/kube-client.js';
import { openWatches } from '../apiserver-metrics.js';
import { freePort, startDetached, stopProcess, waitUntil, type OwnedProcess } from '../processes.js';
import { componentCommand, fakeNode, fakeNodeName } from './components.js';
import { writeCredentials } from './credentials.js';
import { adminKubeConfig, writeKubeconfig } from './kubeconfig.js';
import { buildScript, clusterDir, clusterFiles } from './layout.js';
import { componentNames, forgetState, readState, writeState, type ClusterState, type Component } from './state.js';

export class ClusterStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClusterStartError';
  }
}

/** Builds (or finds in the cache) the control-plane binaries; returns their folder. */
export function buildBinaries(): string {
  const output = execFileSync('bash', [buildScript], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return output.trim().split('\n').pop()!;
}

/** The process `up` recorded for a component, if it still runs a binary of the cluster's bin folder. */
function owned(state: ClusterState, component: Component): OwnedProcess | undefined {
  const pid = state.pids[component];
  if (!pid) return undefined;
  // A stale state file must never make `down` signal someone else's process that got the same pid.
  const running = () => {
    try {
      process.kill(pid, 0);
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(state.binDir);
    } catch {
      return false;
    }
  };
  return { pid, running };
}

const isRunning = (state: ClusterState, component: Component) => owned(state, component)?.running() ?? false;

/** The recorded cluster, if every one of its processes is still running. */
export function runningCluster(): ClusterState | undefined {
  const state = readState();
  return state && componentNames.every((name) => isRunning(state, name)) ? state : undefined;
}

const logPath = (component: Component) => join(clusterFiles.logs, `${component}.log`);

function logTail(component: Component, lines = 30): string {
  const path = logPath(component);
  if (!existsSync(path)) return '(no log)';
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

function start(state: ClusterState, component: Component): void {
  const { binary, args } = componentCommand(component, state);
  state.pids[component] = startDetached(binary, args, logPath(component));
  writeState(state);
}

/** Waits for `ready`, failing early with the component's log tail if it exits. */
function waitFor(state: ClusterState, component: Component, what: string, ready: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  return waitUntil(what, ready, {
    timeoutMs,
    hopeless: () => (isRunning(state, component) ? undefined : `${component} exited`),
    failure: (message) => new ClusterStartError(`${message}; last lines of ${logPath(component)}:\n${logTail(component)}`),
  });
}

/** Starts the apiserver and waits until it is ready; the kubeconfig trusts the certificate it made. */
async function startApiserver(state: ClusterState, what: string): Promise<void> {
  start(state, 'kube-apiserver');
  await waitFor(state, 'kube-apiserver', 'its serving certificate', async () => {
    new X509Certificate(readFileSync(clusterFiles.apiserverCertificate));
    return true;
  });
  writeKubeconfig(state);
  const health = new Health(adminKubeConfig(state));
  await waitFor(state, 'kube-apiserver', what, () => health.readyz({ signal: AbortSignal.timeout(5_000) }), 180_000);
}

/** Starts the whole control plane, or returns the one already running. */
export async function up(log: (line: string) => void = () => {}): Promise<ClusterState> {
  const running = runningCluster();
  if (running) {
    // One started before the functions had an identity of their own has no token for it.
    if (!running.reconcilerToken) throw new ClusterStartError('the running control plane predates the functions\' own identity: restart it (npm run cluster:down, then npm run cluster:up)');
    log(`control plane already running at ${running.server}`);
    return running;
  }
  await down();
  const binDir = buildBinaries();

  rmSync(clusterDir, { recursive: true, force: true });
  mkdirSync(clusterFiles.logs, { recursive: true });
  const [etcdClient, etcdPeer, apiserver, scheduler, kwok] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const state: ClusterState = {
    binDir,
    server: `https://127.0.0.1:${apiserver}`,
    kubeconfig: clusterFiles.kubeconfig,
    adminToken: randomBytes(24).toString('hex'),
    reconcilerToken: randomBytes(24).toString('hex'),
    pids: {},
    ports: { etcdClient, etcdPeer, apiserver, scheduler, kwok },
  };
  writeCredentials({ admin: state.adminToken, reconciler: state.reconcilerToken });

  try {
    log('starting etcd');
    start(state, 'etcd');
    await waitFor(state, 'etcd', 'etcd to serve', async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok);

    log('starting kube-apiserver');
    await startApiserver(state, 'the apiserver to be ready');

    log('starting kube-controller-manager, kube-scheduler and KWOK');
    for (const component of apiserverClients) start(state, component);

    const core = adminKubeConfig(state).makeApiClient(CoreV1Api);
    await waitFor(state, 'kube-apiserver', 'the default namespace', async () => Boolean(await core.readNamespace({ name: 'default' })));
    await core.createNode({ body: fakeNode });
    await waitFor(state, 'kwok', `node ${fakeNodeName} to be Ready`, async () => {
      const node = await core.readNode({ name: fakeNodeName });
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    });
    await waitFor(state, 'kube-controller-manager', 'the default service account', async () =>
      Boolean(await core.readNamespacedServiceAccount({ namespace: 'default', name: 'default' })),
    );
    log(`control plane ready at ${state.server}; KUBECONFIG=${state.kubeconfig}`);
    return state;
  } catch (error) {
    await down();
    throw error;
  }
}

/** The running local control plane, or an error saying there is none. */
export function requireRunning(): ClusterState {
  const state = runningCluster();
  if (!state) throw new Error('no local control plane is running');
  return state;
}

/** The components that are clients of the apiserver. */
const apiserverClients = ['kube-controller-manager', 'kube-scheduler', 'kwok'] as const;

/**
 * Stops the apiserver and starts it again on the same port and storage, as a control-plane upgrade
 * does; tests use it to prove that watchers recover. The other components are restarted too, as an
 * upgrade restarts them: left running, their informers back off for up to a minute before they
 * watch again (16 to 67 s measured after a 13 s restart), and until then the cluster reacts late
 * (garbage collection, quotas) and disturbs whatever runs next. It returns once every watch open
 * before the restart is open again.
 */
export async function restartApiserver(downtimeMs = 0): Promise<void> {
  const state = requireRunning();
  const client = new KubeClient(clusterEndpoint({ mode: 'kubeconfig', path: state.kubeconfig }), { timeoutMs: 5_000 });
  const watches = await openWatches(client);
  await stopProcess(owned(state, 'kube-apiserver'));
  await new Promise((r) => setTimeout(r, downtimeMs));
  await startApiserver(state, 'the apiserver to be ready again');
  for (const component of apiserverClients) {
    await stopProcess(owned(state, component));
    start(state, component);
  }
  await waitFor(state, 'kube-apiserver', `the ${watches} watches open before the restart to be open again`, async () => (await openWatches(client)) >= watches);
  client.close();
}

/** Stops the processes `up` recorded, newest first, and nothing else. */
export async function down(): Promise<void> {
  const state = readState();
  if (!state) return;
  for (const component of [...componentNames].reverse()) await stopProcess(owned(state, component));
  forgetState();
}
