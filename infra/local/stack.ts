// The whole system on one machine, as it runs on AWS: the functions under `osls offline` (bundled
// by serverless-esbuild as deployed, behind serverless-offline-aws-eventbridge's PutEvents endpoint
// and rule matching from serverless.yml), and the forwarder as a process pointed at that endpoint.
// Used by `npm start`, the end-to-end tests and the benchmark.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DetailType, SCHEDULER_SOURCE } from '../../functions/core/event-contract.js';
import { repoRoot } from './cluster/layout.js';
import { freePort, stopProcess, waitUntil, type OwnedProcess } from './processes.js';

const bin = (name: string) => join(repoRoot, 'node_modules/.bin', name);

/** Fixed in serverless.yml (custom.serverless-offline and custom.serverless-offline-aws-eventbridge). */
export const localPorts = { http: 4000, lambda: 4002, bus: 4010, pubSub: 4011 } as const;
export const localStage = 'local';
export const localBusName = `stimulated-peering-${localStage}`;
const awsRegion = 'us-east-1';
// osls offline finishes the invocations in flight before it exits.
const stopGraceMs = 25_000;
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
  /** Extra environment for the forwarder (e.g. COALESCE_MS). */
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
    await stopProcess(owned(this.forwarder), stopGraceMs);
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
    await Promise.all([stopProcess(owned(this.forwarder), stopGraceMs), stopProcess(owned(this.offline), stopGraceMs)]);
    this.forwarder = undefined;
    this.offline = undefined;
  }

  private waitUntil(what: string, child: ChildProcess, ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    return waitUntil(what, ready, {
      timeoutMs,
      hopeless: () => (owned(child)?.running() ? undefined : `${what} exited (${child.exitCode ?? child.signalCode})`),
      failure: (message) => new LocalStackError(`${message}; see ${this.options.logDir}`),
    });
  }
}

/** A child process of the stack, stopped with its whole process group. */
function owned(child: ChildProcess | undefined): OwnedProcess | undefined {
  return child?.pid === undefined ? undefined : { pid: child.pid, group: true, running: () => child.exitCode === null && child.signalCode === null };
}
