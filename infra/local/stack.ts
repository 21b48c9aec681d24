// The whole system on one machine, as it runs on AWS: the functions under `osls offline` (bundled
// by serverless-esbuild as deployed), the event path in front of the reconcile function emulated in
// this process (EventBridge rule -> SQS queue -> event source mapping, bus/), and the forwarder as
// a process pointed at its PutEvents endpoint. Every port is a free one, so stacks and test runs
// never collide. Used by `npm start`, the end-to-end tests and the benchmark.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DetailType, reconcileRulePattern, SCHEDULER_SOURCE } from '../../functions/core/event-contract.js';
import { LocalBus, type BusEvent, type BusFigures } from './bus/bus.js';
import type { InvocationReport } from './bus/event-source.js';
import { kubectlOk } from './cluster/kubectl.js';
import { clusterDir, repoRoot } from './cluster/layout.js';
import { deployForwarderPods, forwarderDeployment, forwarderNamespace, removeForwarderPods } from './forwarder-pods.js';
import type { ImageSource } from './images/index.js';
import { invokeFunction } from './lambda.js';
import { freePort, stopProcess, waitUntil, type OwnedProcess } from './processes.js';
import { readLocalStackSettings } from './settings.js';

const bin = (name: string) => join(repoRoot, 'node_modules/.bin', name);

export const localStage = 'local';
export const localBusName = `stimulated-peering-${localStage}`;
const functionName = (name: 'reconcile' | 'resync') => `stimulated-peering-${localStage}-${name}`;
const awsRegion = 'us-east-1';
const awsAccount = '000000000000';
// osls offline finishes the invocations in flight before it exits.
const stopGraceMs = 25_000;
// The local bus checks no signature, but the SDK wants some credentials to sign with.
const dummyCredentials = { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_REGION: awsRegion };

export interface StackLine {
  /** The bus's lines are its invocations of the reconcile function. */
  source: 'forwarder' | 'functions' | 'bus';
  /** The parsed JSON log line, or undefined for plain output. */
  json?: Record<string, unknown>;
  text: string;
  at: number;
}

export interface LocalStackOptions {
  /** The forwarder's (in a cluster, its ServiceAccount's RBAC decides). */
  kubeconfig: string;
  /** The functions' identity: infra/reconciler's group, held by its RBAC and admission policy. */
  functionsKubeconfig: string;
  /** Where the processes' output is kept. */
  logDir: string;
  onLine?: (line: StackLine) => void;
  /** Extra environment for the forwarder (e.g. PUBLISH_RATE). */
  forwarderEnv?: Record<string, string>;
  /**
   * Deploy the forwarder as users do, into the cluster's real node (two replicas, leader election,
   * its ServiceAccount), instead of running it as a process on this host with the admin's
   * kubeconfig. The bus then listens on `busHost`, the host's address that pods reach.
   */
  forwarderPods?: ForwarderPodsSetup;
  /** Told of each event the bus accepts. */
  onBusEvent?: (event: BusEvent) => void;
}

export interface ForwarderPodsSetup {
  /** The host's address on the node's network: pods reach the bus there. */
  busHost: string;
  /** The kubectl binary. */
  kubectl: string;
  /** Loads an image into the node's container runtime (unless that image is loaded already). */
  loadImage: (source: ImageSource) => Promise<void>;
  /** What sends the pods of a namespace to the real node. */
  namespaceAnnotations: Record<string, string>;
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
  private forwarderDeployed = false;
  private forwarderHttpPort = 0;
  private bus?: LocalBus;
  private lambdaUrl = '';
  private readonly settings = readLocalStackSettings(localStage);

  private constructor(private readonly options: LocalStackOptions) {
    mkdirSync(options.logDir, { recursive: true });
  }

  /** Starts the functions, the bus and the forwarder; resolves when all are serving. */
  static async start(options: LocalStackOptions): Promise<LocalStack> {
    const stack = new LocalStack(options);
    try {
      await stack.startFunctions();
      await stack.startBus();
      await stack.startForwarder();
      return stack;
    } catch (error) {
      await stack.stop();
      throw error;
    }
  }

  /** The forwarder's /healthz, /readyz and /metrics (when it runs as a process). */
  get forwarderUrl(): string {
    return `http://127.0.0.1:${this.forwarderHttpPort}`;
  }

  /** Where the forwarder runs, in words. */
  get forwarderPlace(): string {
    return this.options.forwarderPods
      ? `forwarder pods: kubectl -n ${forwarderNamespace} get deployment ${forwarderDeployment}`
      : `forwarder process, metrics at ${this.forwarderUrl}/metrics`;
  }

  /** The emulated bus's PutEvents endpoint. */
  get busUrl(): string {
    return this.bus!.url;
  }

  /** What went through the emulated event path so far. */
  busFigures(): BusFigures {
    return this.bus!.figures();
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
    // No HTTP events are served, but osls offline opens its HTTP port anyway.
    const [httpPort, lambdaPort] = [await freePort(), await freePort()];
    this.offline = this.spawnLogged('functions', bin('osls'), ['offline', 'start', '--stage', localStage, '--httpPort', String(httpPort), '--lambdaPort', String(lambdaPort)], {
      ...dummyCredentials,
      KUBECONFIG: this.options.functionsKubeconfig,
      CI: 'true',
      SLS_TELEMETRY_DISABLED: '1',
    });
    this.lambdaUrl = `http://127.0.0.1:${lambdaPort}`;
    await this.waitUntil('osls offline', this.offline, () => portOpen(lambdaPort), 180_000);
  }

  private async startBus(): Promise<void> {
    const reconcile = functionName('reconcile');
    this.bus = await LocalBus.start({
      busName: localBusName,
      region: awsRegion,
      account: awsAccount,
      pattern: reconcileRulePattern,
      queueName: `${reconcile}-queue`,
      queue: this.settings.queue,
      eventSource: this.settings.eventSource,
      invoke: (event) => invokeFunction(this.lambdaUrl, reconcile, event, this.settings.functionTimeoutMs.reconcile!),
      onInvocation: (report) => this.options.onLine?.(busLine(report)),
      host: this.options.forwarderPods?.busHost,
      onEvent: this.options.onBusEvent,
    });
  }

  /** The forwarder's settings that only this run knows. */
  private forwarderSettings(): Record<string, string> {
    return { ...dummyCredentials, EVENT_BUS_NAME: localBusName, EVENTBRIDGE_ENDPOINT: this.busUrl, LOG_LEVEL: 'DEBUG', ...this.options.forwarderEnv };
  }

  /** Starts the forwarder (again, after stopForwarder). */
  async startForwarder(): Promise<void> {
    if (this.options.forwarderPods) return this.deployForwarder(this.options.forwarderPods);
    if (this.forwarder) return;
    this.forwarderHttpPort = await freePort();
    // Node itself with tsx's loader, not the tsx wrapper: a signal must reach the forwarder.
    this.forwarder = this.spawnLogged('forwarder', process.execPath, ['--import', 'tsx', 'functions/forwarder/main.ts'], {
      KUBECONFIG: this.options.kubeconfig,
      CLUSTER_ACCESS: 'kubeconfig',
      LEADER_ELECTION: 'false',
      HTTP_PORT: String(this.forwarderHttpPort),
      ...this.forwarderSettings(),
    });
    await this.waitUntil('the forwarder', this.forwarder, async () => (await fetch(`${this.forwarderUrl}/readyz`)).ok, 60_000);
  }

  /** `kubectl apply -k` of infra/local/forwarder with this run's settings; follows the pods' logs. */
  private async deployForwarder(setup: ForwarderPodsSetup): Promise<void> {
    const kubectl = (args: string[]) => kubectlOk(setup.kubectl, this.options.kubeconfig, args);
    this.forwarderDeployed = true;
    await deployForwarderPods({ kubectl, loadImage: setup.loadImage, dir: join(clusterDir, 'forwarder'), env: this.forwarderSettings(), namespaceAnnotations: setup.namespaceAnnotations });
    // The pods as they are now; a pod started later (after a failover) is not followed.
    this.forwarder = this.spawnLogged('forwarder', setup.kubectl, ['-n', forwarderNamespace, 'logs', '-f', '-l', `app.kubernetes.io/name=${forwarderDeployment}`, '--max-log-requests=4'], {
      KUBECONFIG: this.options.kubeconfig,
    });
  }

  /** Stops the forwarder, as a crash or an upgrade would; nothing then reaches the bus. */
  async stopForwarder(): Promise<void> {
    await stopProcess(owned(this.forwarder), stopGraceMs);
    this.forwarder = undefined;
    const setup = this.options.forwarderPods;
    if (setup && this.forwarderDeployed) {
      await removeForwarderPods((args) => kubectlOk(setup.kubectl, this.options.kubeconfig, args));
      this.forwarderDeployed = false;
    }
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
    return (await invokeFunction(this.lambdaUrl, functionName('resync'), event, this.settings.functionTimeoutMs.resync!)) as Record<string, unknown>;
  }

  /** Stops the forwarder, then the bus (its invocations in flight finish), then the functions. */
  async stop(): Promise<void> {
    await this.stopForwarder();
    await this.bus?.stop();
    await stopProcess(owned(this.offline), stopGraceMs);
    this.bus = undefined;
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

/** An invocation by the bus, as a line of the stack's output. */
function busLine(report: InvocationReport): StackLine {
  const json = { message: 'invoked', messages: report.messages, oldestWaitMs: report.oldestWaitMs, durationMs: report.durationMs, failed: report.failed, error: report.error?.message };
  return { source: 'bus', json, text: JSON.stringify(json), at: Date.now() };
}

/** A child process of the stack, stopped with its whole process group. */
function owned(child: ChildProcess | undefined): OwnedProcess | undefined {
  return child?.pid === undefined ? undefined : { pid: child.pid, group: true, running: () => child.exitCode === null && child.signalCode === null };
}
