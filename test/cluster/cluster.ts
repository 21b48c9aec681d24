// The local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and KWOK,
// each a process of the binaries test/cluster/build.sh builds. `up` starts them on free loopback
// ports and waits until a fake node is Ready; `down` stops exactly the processes `up` recorded.
import { execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Where `up` keeps its state, logs and the kubeconfig it writes. */
export const clusterDir = process.env.LOCAL_CLUSTER_DIR ?? join(repoRoot, '.cluster');
export const kubeconfigPath = join(clusterDir, 'kubeconfig');
const statePath = join(clusterDir, 'state.json');

export const fakeNodeName = 'kwok-node-0';

const componentNames = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const;
type Component = (typeof componentNames)[number];

export interface ClusterState {
  binDir: string;
  server: string;
  kubeconfig: string;
  adminToken: string;
  pids: Partial<Record<Component, number>>;
  ports: { etcdClient: number; etcdPeer: number; apiserver: number };
}

export class ClusterStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClusterStartError';
  }
}

/** Builds (or finds in the cache) the control-plane binaries; returns their folder. */
export function buildBinaries(): string {
  const output = execFileSync('bash', [join(repoRoot, 'test/cluster/build.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return output.trim().split('\n').pop()!;
}

export function readState(): ClusterState | undefined {
  if (!existsSync(statePath)) return undefined;
  return JSON.parse(readFileSync(statePath, 'utf8')) as ClusterState;
}

/**
 * Whether `pid` is still one of the processes `up` started: alive, and running a binary of the
 * cluster's bin folder (a stale state file must never make `down` signal someone else's process).
 */
function isAlive(pid: number | undefined, binDir: string): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(binDir);
  } catch {
    return false;
  }
}

/** The recorded cluster, if every one of its processes is still running. */
export function runningCluster(): ClusterState | undefined {
  const state = readState();
  if (!state) return undefined;
  return componentNames.every((name) => isAlive(state.pids[name], state.binDir)) ? state : undefined;
}

/** A loopback port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function logPath(component: Component): string {
  return join(clusterDir, 'logs', `${component}.log`);
}

function logTail(component: Component, lines = 30): string {
  const path = logPath(component);
  if (!existsSync(path)) return '(no log)';
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

function startProcess(state: ClusterState, component: Component, binary: string, args: string[]): void {
  const log = openSync(logPath(component), 'a');
  const child = spawn(binary, args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  if (!child.pid) throw new ClusterStartError(`could not start ${component}`);
  state.pids[component] = child.pid;
  writeFileSync(statePath, JSON.stringify(state, null, 2));
}

/** Polls `check` until it returns true; fails with the component's log tail when it dies or time runs out. */
async function waitFor(
  state: ClusterState,
  component: Component,
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(state.pids[component], state.binDir)) {
      throw new ClusterStartError(`${component} exited while waiting for ${what}; last lines of ${logPath(component)}:\n${logTail(component)}`);
    }
    if (await check().catch(() => false)) return;
    await sleep(250);
  }
  throw new ClusterStartError(`timed out after ${timeoutMs / 1000}s waiting for ${what}; last lines of ${logPath(component)}:\n${logTail(component)}`);
}

interface ApiResponse {
  ok: boolean;
  json(): unknown;
}

/** A GET as the admin. The apiserver's certificate is one it made for itself; this only talks to its own loopback port. */
function apiGet(state: ClusterState, path: string): Promise<ApiResponse> {
  return new Promise((resolveResponse, reject) => {
    const request = httpsGet(
      `${state.server}${path}`,
      { headers: { authorization: `Bearer ${state.adminToken}` }, rejectUnauthorized: false, timeout: 5000 },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          resolveResponse({ ok: status >= 200 && status < 300, json: () => JSON.parse(body) });
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error(`GET ${path} timed out`)));
    request.on('error', reject);
  });
}

function writeSecrets(state: ClusterState): { tokenFile: string; saKey: string; saPub: string } {
  const pki = join(clusterDir, 'pki');
  mkdirSync(pki, { recursive: true });
  const tokenFile = join(pki, 'tokens.csv');
  // Static token users: the admin (system:masters) used for set-up and by the other components.
  writeFileSync(tokenFile, `${state.adminToken},admin,admin-uid,"system:masters"\n`, { mode: 0o600 });
  const saKey = join(pki, 'sa.key');
  const saPub = join(pki, 'sa.pub');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(saKey, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
  writeFileSync(saPub, publicKey.export({ type: 'spki', format: 'pem' }));
  return { tokenFile, saKey, saPub };
}

function writeKubeconfig(state: ClusterState, caFile: string): void {
  const ca = readFileSync(caFile).toString('base64');
  const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: ${state.server}
    certificate-authority-data: ${ca}
users:
- name: admin
  user:
    token: ${state.adminToken}
contexts:
- name: local
  context:
    cluster: local
    user: admin
    namespace: default
current-context: local
`;
  writeFileSync(state.kubeconfig, kubeconfig, { mode: 0o600 });
}

const fakeNode = {
  apiVersion: 'v1',
  kind: 'Node',
  metadata: {
    name: fakeNodeName,
    annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
    labels: { 'kubernetes.io/hostname': fakeNodeName, 'kubernetes.io/os': 'linux', type: 'kwok' },
  },
  // Room for the benchmarks' thousands of pods: KWOK's pods cost nothing.
  status: { allocatable: { cpu: '1000', memory: '4Ti', pods: '20000' }, capacity: { cpu: '1000', memory: '4Ti', pods: '20000' } },
};

/** Starts the whole control plane, or returns the one already running. */
export async function up(log: (line: string) => void = () => {}): Promise<ClusterState> {
  const running = runningCluster();
  if (running) {
    log(`control plane already running at ${running.server}`);
    return running;
  }
  await down();
  const binDir = buildBinaries();
  const controlplane = join(binDir, 'controlplane');

  rmSync(clusterDir, { recursive: true, force: true });
  mkdirSync(join(clusterDir, 'logs'), { recursive: true });
  const [etcdClient, etcdPeer, apiserver] = [await freePort(), await freePort(), await freePort()];
  const state: ClusterState = {
    binDir,
    server: `https://127.0.0.1:${apiserver}`,
    kubeconfig: kubeconfigPath,
    adminToken: randomBytes(24).toString('hex'),
    pids: {},
    ports: { etcdClient, etcdPeer, apiserver },
  };
  const secrets = writeSecrets(state);
  const pki = join(clusterDir, 'pki');

  try {
    log('starting etcd');
    startProcess(state, 'etcd', controlplane, [
      'etcd',
      `--data-dir=${join(clusterDir, 'etcd')}`,
      `--listen-client-url=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-url=http://127.0.0.1:${etcdPeer}`,
    ]);
    await waitFor(state, 'etcd', 'etcd to serve', async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok);

    log('starting kube-apiserver');
    startApiserver(state, secrets, pki);
    await waitFor(state, 'kube-apiserver', 'the apiserver to be ready', async () => (await apiGet(state, '/readyz')).ok, 180_000);
    writeKubeconfig(state, join(pki, 'apiserver.crt'));

    log('starting kube-controller-manager, kube-scheduler and KWOK');
    startProcess(state, 'kube-controller-manager', controlplane, [
      'kube-controller-manager',
      `--kubeconfig=${state.kubeconfig}`,
      `--authentication-kubeconfig=${state.kubeconfig}`,
      `--authorization-kubeconfig=${state.kubeconfig}`,
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      '--leader-elect=false',
      '--use-service-account-credentials=false',
      `--service-account-private-key-file=${secrets.saKey}`,
      `--root-ca-file=${join(pki, 'apiserver.crt')}`,
      // Everything a real cluster runs, less what needs a cloud or real nodes.
      '--controllers=*,-cloud-node-lifecycle-controller,-node-ipam-controller,-service-lb-controller,-node-route-controller,-persistentvolume-attach-detach-controller',
      '--concurrent-deployment-syncs=10',
      '--concurrent-replicaset-syncs=10',
      '--concurrent-gc-syncs=20',
      '--kube-api-qps=200',
      '--kube-api-burst=400',
    ]);
    startProcess(state, 'kube-scheduler', controlplane, [
      'kube-scheduler',
      `--kubeconfig=${state.kubeconfig}`,
      `--authentication-kubeconfig=${state.kubeconfig}`,
      `--authorization-kubeconfig=${state.kubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${await freePort()}`,
      '--leader-elect=false',
      '--kube-api-qps=200',
      '--kube-api-burst=400',
    ]);
    startProcess(state, 'kwok', join(binDir, 'kwok'), [
      `--kubeconfig=${state.kubeconfig}`,
      `--config=${join(binDir, 'kwok-stages.yaml')}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--cidr=10.0.0.1/16',
      '--node-ip=10.0.0.1',
      `--server-address=127.0.0.1:${await freePort()}`,
    ]);

    await waitFor(state, 'kube-apiserver', 'the default namespace', async () => (await apiGet(state, '/api/v1/namespaces/default')).ok);
    kubectl(state, ['apply', '-f', '-'], JSON.stringify(fakeNode));
    await waitFor(state, 'kwok', `node ${fakeNodeName} to be Ready`, async () => {
      const node = (await apiGet(state, `/api/v1/nodes/${fakeNodeName}`)).json() as {
        status?: { conditions?: Array<{ type: string; status: string }> };
      };
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    });
    await waitFor(state, 'kube-controller-manager', 'the default service account', async () =>
      (await apiGet(state, '/api/v1/namespaces/default/serviceaccounts/default')).ok,
    );
    log(`control plane ready at ${state.server}; KUBECONFIG=${state.kubeconfig}`);
    return state;
  } catch (error) {
    await down();
    throw error;
  }
}

function startApiserver(state: ClusterState, secrets: ReturnType<typeof writeSecrets>, pki: string): void {
  startProcess(state, 'kube-apiserver', join(state.binDir, 'controlplane'), [
    'kube-apiserver',
    `--etcd-servers=http://127.0.0.1:${state.ports.etcdClient}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${state.ports.apiserver}`,
    `--cert-dir=${pki}`,
    `--token-auth-file=${secrets.tokenFile}`,
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${secrets.saPub}`,
    `--service-account-signing-key-file=${secrets.saKey}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--endpoint-reconciler-type=none',
    '--allow-privileged=true',
    '--profiling=false',
    '--max-requests-inflight=2000',
    '--max-mutating-requests-inflight=1000',
  ]);
}

/**
 * Stops the apiserver and starts it again on the same port and storage, as a real control-plane
 * upgrade or crash would; tests use it to prove that watchers recover.
 */
export async function restartApiserver(downtimeMs = 0): Promise<void> {
  const state = readState();
  if (!state?.pids['kube-apiserver']) throw new Error('no local control plane is running');
  await stopProcess(state.pids['kube-apiserver'], state.binDir);
  await sleep(downtimeMs);
  const pki = join(clusterDir, 'pki');
  startApiserver(state, { tokenFile: join(pki, 'tokens.csv'), saKey: join(pki, 'sa.key'), saPub: join(pki, 'sa.pub') }, pki);
  await waitFor(state, 'kube-apiserver', 'the apiserver to be ready again', async () => (await apiGet(state, '/readyz')).ok);
}

async function stopProcess(pid: number | undefined, binDir: string): Promise<void> {
  if (!isAlive(pid, binDir)) return;
  process.kill(pid!, 'SIGTERM');
  for (let i = 0; i < 100 && isAlive(pid, binDir); i++) await sleep(100);
  if (isAlive(pid, binDir)) process.kill(pid!, 'SIGKILL');
  for (let i = 0; i < 50 && isAlive(pid, binDir); i++) await sleep(100);
}

/** Stops the processes `up` recorded, newest first, and nothing else. */
export async function down(): Promise<void> {
  const state = readState();
  if (!state) return;
  for (const component of [...componentNames].reverse()) {
    await stopProcess(state.pids[component], state.binDir);
  }
  rmSync(statePath, { force: true });
}

/** Runs the cluster's kubectl (the binary built beside the control plane) as the admin. */
export function kubectl(state: Pick<ClusterState, 'binDir' | 'kubeconfig'>, args: string[], input?: string): string {
  return execFileSync(join(state.binDir, 'kubectl'), args, {
    encoding: 'utf8',
    input,
    env: { ...process.env, KUBECONFIG: state.kubeconfig },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/**
 * Compacts etcd up to its current revision, through its v3 HTTP gateway; returns that revision.
 * (A minimal one for the forwarder's tests until infra/local/cluster's compactEtcd lands on main.)
 */
export async function compactEtcd(state: ClusterState | undefined = runningCluster()): Promise<number> {
  if (!state) throw new Error('the local control plane is not running');
  const call = async <T>(path: string, body: object): Promise<T> => {
    const response = await fetch(`http://127.0.0.1:${state.ports.etcdClient}/v3/${path}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
    if (!response.ok) throw new Error(`etcd ${path} answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as T;
  };
  const range = await call<{ header: { revision: string } }>('kv/range', { key: Buffer.from('/compaction-probe').toString('base64') });
  const revision = Number(range.header.revision);
  await call('kv/compaction', { revision, physical: true });
  return revision;
}
