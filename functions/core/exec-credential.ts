// A client-go exec credential plugin (`aws eks get-token`, `gke-gcloud-auth-plugin`, kubelogin...)
// run as client-go runs it (plugin/pkg/client/auth/exec/exec.go): with KUBERNETES_EXEC_INFO holding
// an ExecCredential of the configured apiVersion (never interactive: a function has no terminal;
// the cluster's details when provideClusterInfo is set), the kubeconfig's env on top of ours, and
// no stdin. Its token is kept until its expirationTimestamp, or, without one, until the API server
// answers 401 to it. Unlike client-go, a plugin that does not answer within a timeout fails: a hung
// plugin would otherwise hang every request behind it.
import { spawn } from 'node:child_process';
import type { ExecConfig, KubeconfigCluster } from './kubeconfig.js';
import { KubeconfigError } from './kubeconfig.js';

/** A plugin that has not answered after this long has failed (it may be waiting for a browser login). */
export const EXEC_TIMEOUT_MS = 30_000;
/** Plugin output kept for an error message. */
const STDERR_KEPT = 2000;

interface ExecCredentialStatus {
  token?: string;
  expirationTimestamp?: string;
  clientCertificateData?: string;
}

/** The `spec.cluster` client-go hands a plugin whose config says provideClusterInfo. */
export function execClusterInfo(cluster: KubeconfigCluster, caData: Buffer | undefined): Record<string, unknown> {
  const config = cluster.extensions?.find((extension) => extension.name === 'client.authentication.k8s.io/exec')?.extension;
  const info: Record<string, unknown> = {
    server: cluster.server,
    'tls-server-name': cluster['tls-server-name'],
    'insecure-skip-tls-verify': cluster['insecure-skip-tls-verify'] || undefined,
    'certificate-authority-data': caData?.toString('base64'),
    'disable-compression': cluster['disable-compression'] || undefined,
    config,
  };
  return Object.fromEntries(Object.entries(info).filter(([, value]) => value !== undefined));
}

export class ExecTokenSource {
  private cached: { token: string; expiresAt: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly exec: ExecConfig,
    private readonly options: { cluster?: Record<string, unknown>; timeoutMs?: number; now?: () => number } = {},
  ) {}

  async token(): Promise<string> {
    const now = this.options.now?.() ?? Date.now();
    if (this.cached && now < this.cached.expiresAt) return this.cached.token;
    // Concurrent callers share one run of the plugin.
    this.pending ??= this.run().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** The API server refused `token`: the next caller runs the plugin again, unless that already happened. */
  rejected(token: string): boolean {
    if (this.cached?.token === token) this.cached = undefined;
    return true;
  }

  private async run(): Promise<string> {
    const stdout = await runPlugin(this.exec, this.execInfo(), this.options.timeoutMs ?? EXEC_TIMEOUT_MS);
    const { apiVersion, status } = parseCredential(this.exec.command, stdout);
    if (apiVersion !== this.exec.apiVersion) throw new KubeconfigError(`exec plugin ${this.exec.command} is configured to use API version ${this.exec.apiVersion}, plugin returned version ${apiVersion}`);
    if (!status?.token) {
      throw new KubeconfigError(`exec plugin ${this.exec.command} returned ${status?.clientCertificateData ? 'a client certificate, which is not supported' : 'no token'}`);
    }
    // client-go uses the token up to its expiry; a minute less leaves room for the request itself.
    const expiresAt = status.expirationTimestamp ? Date.parse(status.expirationTimestamp) - 60_000 : Infinity;
    this.cached = { token: status.token, expiresAt };
    return status.token;
  }

  private execInfo(): string {
    const spec = { interactive: false, ...(this.exec.provideClusterInfo && this.options.cluster ? { cluster: this.options.cluster } : {}) };
    return JSON.stringify({ apiVersion: this.exec.apiVersion, kind: 'ExecCredential', spec });
  }
}

function parseCredential(command: string, stdout: string): { apiVersion?: string; status?: ExecCredentialStatus } {
  try {
    return JSON.parse(stdout) as { apiVersion?: string; status?: ExecCredentialStatus };
  } catch (error) {
    throw new KubeconfigError(`exec plugin ${command} printed no ExecCredential: ${(error as Error).message}`);
  }
}

/** Runs the plugin; resolves with its stdout, rejects when it fails, cannot start, or outlasts `timeoutMs`. */
function runPlugin(exec: ExecConfig, execInfo: string, timeoutMs: number): Promise<string> {
  const env = { ...process.env, ...Object.fromEntries((exec.env ?? []).map(({ name, value }) => [name, value])), KUBERNETES_EXEC_INFO: execInfo };
  const what = `exec plugin ${exec.command}`;
  return new Promise((resolve, reject) => {
    const child = spawn(exec.command, exec.args ?? [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-STDERR_KEPT)));
    // Settled by the timer even when a grandchild keeps the pipes open after the plugin is killed.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new KubeconfigError(`${what} gave no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      const hint = exec.installHint ? `\n${exec.installHint}` : '';
      reject(new KubeconfigError(`${what} could not be run: ${error.message}${hint}`, { cause: error }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new KubeconfigError(`${what} failed with ${signal ?? `exit code ${code}`}: ${stderr.trim()}`));
    });
  });
}
