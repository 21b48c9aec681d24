// The whole system on one machine, as it runs on AWS: the functions under `osls offline` (bundled
// by serverless-esbuild as deployed, behind serverless-offline-aws-eventbridge's PutEvents endpoint
// and rule matching from serverless.yml), and the forwarder as a process pointed at that endpoint.
// Used by `npm start`, the end-to-end tests and the benchmark.
import { KubeConfig, KubernetesObjectApi, loadAllYaml, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { FIELD_MANAGER } from '../../functions/core/desired.js';
import { DetailType, SCHEDULER_SOURCE } from '../../functions/core/event-contract.js';
import { freePort } from '../../test/cluster/cluster.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = (name: string) => join(repoRoot, 'node_modules/.bin', name);

/** Fixed in serverless.yml (custom.serverless-offline and custom.serverless-offline-aws-eventbridge). */
export const localPorts = { http: 4000, lambda: 4002, bus: 4010, pubSub: 4011 } as const;
export const localStage = 'local';
export const localBusName = `stimulated-peering-${localStage}`;
const awsRegion = 'us-east-1';
// The local bus checks no signature, but the SDK wants some credentials to sign with.
const dummyCredentials = { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_REGION: awsRegion };

export interface StackLine {
  source: 'forwarder' | 'functions';
  /** The parsed JSON log line, or undefined for plain output. */
  json?: Record<string, unknown>;
  text: string;
  at: number;
}

export interface LocalStackOptions {
  kubeconfig: string;
  /** Where the processes' output is kept. */
  logDir: string;
  onLine?: (line: StackLine) => void;
  /** Extra environment for the forwarder (e.g. PUBLISH_RATE). */
  forwarderEnv?: Record<string, string>;
}

export class LocalStackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalStackError';
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => resolvePort(socket.end() && true));
    socket.once('error', () => resolvePort(false));
  });
}

/** Applies the CRD from crds/ with server-side apply, and waits until it is served. */
export async function installCrd(kubeconfig: string): Promise<void> {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  const objects = KubernetesObjectApi.makeApiClient(config);
  const crd = loadAllYaml(readFileSync(join(repoRoot, 'crds/groupsp.measutosh.dev_kindcustomhttps.yaml'), 'utf8'))[0] as KubernetesObject;
  await objects.patch(crd, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  for (let attempt = 0; attempt < 120; attempt++) {
    const served = (await objects.read({ apiVersion: crd.apiVersion, kind: crd.kind, metadata: { name: crd.metadata!.name! } })) as KubernetesObject & { status?: { conditions?: Array<{ type: string; status: string }> } };
    if (served.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new LocalStackError('the CRD was not established within 30 s');
}

export class LocalStack {
  private offline?: ChildProcess;
  private forwarder?: ChildProcess;
  private forwarderHttpPort = 0;

  private constructor(private readonly options: LocalStackOptions) {
    mkdirSync(options.logDir, { recursive: true });
  }

  /** Starts the functions and the forwarder; resolves when both are serving. */
  static async start(options: LocalStackOptions): Promise<LocalStack> {
    const stack = new LocalStack(options);
    try {
      await stack.startFunctions();
      await stack.startForwarder();
      return stack;
    } catch (error) {
      await stack.stop();
      throw error;
    }
  }

  /** The forwarder's /healthz, /readyz and /metrics. */
  get forwarderUrl(): string {
    return `http://127.0.0.1:${this.forwarderHttpPort}`;
  }

  private spawnLogged(source: StackLine['source'], command: string, args: string[], env: Record<string, string>): ChildProcess {
    const child = spawn(command, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const file = createWriteStream(join(this.options.logDir, `${source}.log`), { flags: 'a' });
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (text) => {
        file.write(`${text}\n`);
        let json: Record<string, unknown> | undefined;
        if (text.startsWith('{')) {
          try {
            json = JSON.parse(text);
          } catch {
            // plain output that happens to start with a brace
          }
        }
        this.options.onLine?.({ source, json, text, at: Date.now() });
      });
    }
    return child;
  }

  private async startFunctions(): Promise<void> {
    for (const [name, port] of Object.entries(localPorts)) {
      if (await portOpen(port)) throw new LocalStackError(`port ${port} (${name}) is in use: is another local stack running?`);
    }
    this.offline = this.spawnLogged('functions', bin('osls'), ['offline', 'start', '--stage', localStage], {
      ...dummyCredentials,
      KUBECONFIG: this.options.kubeconfig,
      CI: 'true',
      SLS_TELEMETRY_DISABLED: '1',
    });
    await this.waitUntil('osls offline', this.offline, async () => (await portOpen(localPorts.bus)) && (await portOpen(localPorts.lambda)), 180_000);
  }

  /** Starts the forwarder (again, after stopForwarder). */
  async startForwarder(): Promise<void> {
    if (this.forwarder) return;
    this.forwarderHttpPort = await freePort();
    // Node itself with tsx's loader, not the tsx wrapper: a signal must reach the forwarder.
    this.forwarder = this.spawnLogged('forwarder', process.execPath, ['--import', 'tsx', 'functions/forwarder/main.ts'], {
      ...dummyCredentials,
      EVENT_BUS_NAME: localBusName,
      EVENTBRIDGE_ENDPOINT: `http://127.0.0.1:${localPorts.bus}`,
      KUBECONFIG: this.options.kubeconfig,
      CLUSTER_ACCESS: 'kubeconfig',
      LEADER_ELECTION: 'false',
      HTTP_PORT: String(this.forwarderHttpPort),
      LOG_LEVEL: 'DEBUG',
      ...this.options.forwarderEnv,
    });
    await this.waitUntil('the forwarder', this.forwarder, async () => (await fetch(`${this.forwarderUrl}/readyz`)).ok, 60_000);
  }

  /** Stops the forwarder, as a crash or an upgrade would; nothing then reaches the bus. */
  async stopForwarder(): Promise<void> {
    await stopProcess(this.forwarder);
    this.forwarder = undefined;
  }

  /** Runs the resync function as its schedule would, through the local Lambda invoke API. */
  async invokeResync(namespaces?: string[]): Promise<Record<string, unknown>> {
    const event = {
      version: '0',
      id: `local-resync-${Date.now()}`,
      source: SCHEDULER_SOURCE,
      'detail-type': DetailType.ResyncRequested,
      time: new Date().toISOString(),
      region: awsRegion,
      resources: [],
      detail: namespaces ? { namespaces } : {},
    };
    const response = await fetch(`http://127.0.0.1:${localPorts.lambda}/2015-03-31/functions/stimulated-peering-${localStage}-resync/invocations`, {
      method: 'POST',
      body: JSON.stringify(event),
    });
    const body = (await response.json()) as Record<string, unknown>;
    if (!response.ok || response.headers.get('x-amz-function-error')) throw new LocalStackError(`resync failed: ${JSON.stringify(body)}`);
    return body;
  }

  async stop(): Promise<void> {
    await Promise.all([stopProcess(this.forwarder), stopProcess(this.offline)]);
    this.forwarder = undefined;
    this.offline = undefined;
  }

  private async waitUntil(what: string, child: ChildProcess, ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new LocalStackError(`${what} exited (${child.exitCode ?? child.signalCode}); see ${this.options.logDir}`);
      }
      if (await ready().catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new LocalStackError(`${what} was not ready within ${timeoutMs / 1000} s; see ${this.options.logDir}`);
  }
}

/** SIGTERM to the process group (osls starts workers), SIGKILL if it lingers. */
async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 25_000);
  await exited;
  clearTimeout(timer);
}
