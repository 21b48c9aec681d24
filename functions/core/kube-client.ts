// The one Kubernetes REST client of the functions and the forwarder: JSON over node:https with a
// keep-alive connection pool, a client-side rate limit, and one way to time a request out: an
// AbortSignal per request. The API is REST; the typed clients of @kubernetes/client-node cost
// 1.9 MB of bundle (its models and undici) and 180 ms of cold start for the dozen calls we make.
//
// Under load the client backs off rather than piling on (issue 23): writes in flight follow an
// adaptive limit (adaptive-limit.ts); a 429, or a 503 with Retry-After, is sent again after the
// delay the API server asks for; and a write is given far longer to be answered than a read,
// since an API server that queues writes is slow, not gone. Giving a queued write up after a few
// seconds and sending it again doubled the work of a busy API server in the 1,000-CR burst (686
// writes abandoned at 10 s and retried, 217 s against the control plane's own 102 s).
import { AsyncLocalStorage } from 'node:async_hooks';
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { AdaptiveLimit, type AdaptiveLimitOptions, type LimitSample } from './adaptive-limit.js';
import { sleep } from './backoff.js';
import { RateLimiter, type RateLimit } from './rate-limiter.js';

/** Where the API server is and how to prove who we are to it. */
export interface ClusterEndpoint {
  /** `https://host:port`, perhaps with a path every request goes under (Rancher's `/k8s/clusters/c-x`); `http://` for a local proxy. */
  server: string;
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  insecureSkipTlsVerify?: boolean;
  tlsServerName?: string;
  /** The bearer token for the next request, when the cluster takes one; asked for every request. */
  token?: () => Promise<string | undefined>;
  /** The API server answered 401 to `token`: true when `token()` may now give another, worth one more try. */
  tokenRejected?: (token: string) => boolean;
  /** Sent with every request (impersonation). */
  headers?: Record<string, string | string[]>;
}

/** The `Status` object the API server answers a failure with. */
export interface ApiStatus {
  message?: string;
  reason?: string;
  code?: number;
  details?: { kind?: string; name?: string; causes?: Array<{ reason?: string; message?: string; field?: string }> };
}

/** The API server answered with an HTTP error. */
export class ApiError extends Error {
  constructor(
    readonly what: string,
    readonly code: number,
    readonly status: ApiStatus,
    /** The answer's Retry-After, in milliseconds, when it had one. */
    readonly retryAfterMs?: number,
  ) {
    super(`${what}: ${code} ${status.message ?? status.reason ?? 'no message'}`);
    this.name = 'ApiError';
  }

  /** `Status.reason`, e.g. `NotFound`, `Forbidden`, `Invalid`, `AlreadyExists`. */
  get reason(): string | undefined {
    return this.status.reason;
  }

  /** The reasons of the Status' causes, e.g. `FieldValueInvalid` or `NamespaceTerminating`. */
  get causes(): string[] {
    return (this.status.details?.causes ?? []).flatMap((cause) => (cause.reason ? [cause.reason] : []));
  }
}

/** No answer came in time (or the connection failed before one could). */
export class NoAnswerError extends Error {
  /** How long it waited, when it gave up waiting (rather than the connection failing). */
  readonly ms?: number;

  constructor(what: string, options: { ms?: number; cause?: unknown }) {
    super(options.ms === undefined ? `${what}: no answer` : `${what}: no answer within ${options.ms} ms`, { cause: options.cause });
    this.name = 'NoAnswerError';
    this.ms = options.ms;
  }
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  query?: Query;
  body?: unknown;
  /** Of the body; JSON unless a patch says otherwise. */
  contentType?: string;
  accept?: string;
  /** The caller's own cancellation (shutdown, a lost lease). */
  signal?: AbortSignal;
  /** Overrides the client's request timeout. */
  timeoutMs?: number;
}

export interface StreamOptions extends Omit<RequestOptions, 'timeoutMs' | 'body' | 'method'> {
  /** The stream is given up as silent when nothing arrives for this long. */
  idleTimeoutMs: number;
  onLine: (line: string) => void;
}

/** What the client does about a congested API server, for logs and metrics. */
export type CongestionEvent =
  | { kind: 'throttled'; what: string; code: number; retryAfterMs: number; attempt: number }
  | { kind: 'abandoned'; what: string; ms: number };

export interface KubeClientCounters {
  requests: number;
  writes: number;
  /** Requests sent again after a 429 (or a 503 with Retry-After). */
  throttledRetries: number;
  /** Writes given up without an answer: the API server may still apply them. */
  abandonedWrites: number;
}

export interface KubeClientOptions {
  rateLimit?: RateLimit;
  /**
   * The dead-connection timeout: a read with no answer after this long, or a new connection not
   * made in this long, fails with NoAnswerError and the pool is replaced.
   */
  timeoutMs: number;
  /** Connections idle for longer than this are not reused; IDLE_CONNECTION_MS unless set. */
  idleConnectionMs?: number;
  /**
   * How long a write may wait for its answer (the timeoutMs when absent). A busy API server queues
   * writes, so this is long: the API server's own request timeout is 60 s. It is bounded by the
   * deadline of the work at hand (withDeadline).
   */
  writeTimeoutMs?: number;
  /** When given, writes in flight follow an adaptive limit that starts and stays within these. */
  writeConcurrency?: AdaptiveLimitOptions;
  /** Hears every retry after a 429 or 503, and every write abandoned without an answer. */
  onCongestion?: (event: CongestionEvent) => void;
  userAgent?: string;
}

/** A 429 (or 503) is sent again at most this many times, as client-go does. */
const MAX_THROTTLED_RETRIES = 10;
/** The wait after a 429 that names none. */
const DEFAULT_RETRY_AFTER_MS = 1_000;

const deadlines = new AsyncLocalStorage<number>();

/**
 * Runs `work` with every request it makes bounded by `deadline` (epoch ms): a request is answered
 * before it or abandoned at it, and no retry after a 429 starts that would end after it. A
 * function's invocation passes its own end, so that a write waits for its answer as long as the
 * invocation can, and no longer.
 */
export function withDeadline<T>(deadline: number, work: () => Promise<T>): Promise<T> {
  return deadlines.run(deadline, work);
}

function timeToDeadline(): number {
  const deadline = deadlines.getStore();
  return deadline === undefined ? Infinity : deadline - Date.now();
}

export const PatchType = {
  apply: 'application/apply-patch+yaml',
  merge: 'application/merge-patch+json',
} as const;

/**
 * Kept-alive connections unused for this long are closed rather than reused. A Lambda function is
 * frozen between invocations: the API server closes a connection idle for 90 s, and a NAT or load
 * balancer forgets one after some minutes, but a frozen process notices neither, and on thaw may
 * send its next request on a dead connection (a reset, or no answer until the request timeout).
 * A third of the API server's idle timeout: a busy function keeps its connections, a thawed one
 * pays a new TLS handshake instead.
 */
export const IDLE_CONNECTION_MS = 30_000;

function describeRequest(method: string, path: string): string {
  return `${method} ${path}`;
}

export class KubeClient {
  private agent: HttpAgent;
  private readonly limiter?: RateLimiter;
  /** The writes in flight, when they follow an adaptive limit. */
  readonly writeLimit?: AdaptiveLimit;
  private readonly base: URL;
  /** When a request last started or ended, to know when the pool's connections have sat idle. */
  private lastActive = 0;
  readonly counters: KubeClientCounters = { requests: 0, writes: 0, throttledRetries: 0, abandonedWrites: 0 };

  constructor(
    readonly endpoint: ClusterEndpoint,
    private readonly options: KubeClientOptions,
  ) {
    this.base = new URL(endpoint.server);
    this.limiter = options.rateLimit && new RateLimiter(options.rateLimit.qps, options.rateLimit.burst);
    this.writeLimit = options.writeConcurrency && new AdaptiveLimit(options.writeConcurrency);
    this.agent = this.newAgent();
  }

  /** Requests sent so far (retries included), for metrics and benchmarks. */
  get requestCount(): number {
    return this.counters.requests;
  }

  /** A client for the same cluster acting with another token (tests and restricted identities). */
  withToken(token: string): KubeClient {
    const { cert: _cert, key: _key, tokenRejected: _rejected, headers: _impersonation, ...endpoint } = this.endpoint;
    return new KubeClient({ ...endpoint, token: async () => token }, this.options);
  }

  /**
   * Moves new requests to a fresh connection pool, and retires the old one: its idle connections
   * are closed at once and the busy ones as they finish. A connection a NAT or load balancer
   * silently forgot is never noticed otherwise, and whatever is sent on it waits for an answer that
   * never comes; but a request that only took long says nothing of the others under way, and
   * cutting them all (as destroying the pool did) turned one slow answer under load into a hundred
   * failed requests and their retries.
   */
  resetConnections(pool: HttpAgent = this.agent): void {
    // Requests that timed out together each ask; only the pool they used is replaced, once.
    if (pool !== this.agent) return;
    this.agent = this.newAgent();
    pool.maxFreeSockets = 0;
    for (const sockets of Object.values(pool.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
  }

  /** Closes every connection, busy or not: the client is done with. */
  close(): void {
    this.agent.destroy();
  }

  /**
   * One request; resolves with the parsed JSON answer (undefined when empty), or the text of another
   * kind of answer. A 401 to a token its source can replace (an exec plugin's token without an
   * expiry, a rotated token file) is tried once more with the next token, as client-go refreshes.
   */
  async request<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const token = await this.endpoint.token?.();
    try {
      return await this.requestWith<T>(path, options, token);
    } catch (error) {
      if (!this.rejected(error, token)) throw error;
      return this.requestWith<T>(path, options, await this.endpoint.token?.());
    }
  }

  /** Tells the token source of a 401 to `token`; true when a new token is worth a try. */
  private rejected(error: unknown, token: string | undefined): boolean {
    return error instanceof ApiError && error.code === 401 && token !== undefined && this.endpoint.tokenRejected?.(token) === true;
  }

  /**
   * A 429, or a 503 with Retry-After, is sent again after the delay it asks for (the API server
   * turned it away before doing anything), while the deadline allows.
   */
  private async requestWith<T>(path: string, options: RequestOptions, token: string | undefined): Promise<T> {
    const write = (options.method ?? 'GET') !== 'GET';
    const what = describeRequest(options.method ?? 'GET', path);
    for (let attempt = 0; ; attempt++) {
      if (timeToDeadline() <= 0) throw new NoAnswerError(`${what} not sent: the deadline has passed`, {});
      try {
        return write ? await this.limitedWrite(() => this.once<T>(what, path, options, true, token)) : await this.once<T>(what, path, options, false, token);
      } catch (error) {
        await this.waitToRetry(error, what, attempt, options.signal);
      }
    }
  }

  /** Waits as a 429 or 503 asks, and counts the retry; rethrows anything else, or when the wait would not fit. */
  private async waitToRetry(error: unknown, what: string, attempt: number, signal: AbortSignal | undefined): Promise<void> {
    const delayMs = throttledDelay(error, attempt);
    if (delayMs === undefined || delayMs >= timeToDeadline() || signal?.aborted) throw error;
    this.counters.throttledRetries++;
    this.options.onCongestion?.({ kind: 'throttled', what, code: (error as ApiError).code, retryAfterMs: delayMs, attempt });
    await sleep(delayMs, signal);
  }

  /** A write, once there is room for it under the adaptive limit; its latency or drop feeds the limit. */
  private async limitedWrite<T>(send: () => Promise<T>): Promise<T> {
    const limit = this.writeLimit;
    if (!limit) return send();
    await limit.acquire();
    const started = performance.now();
    let sample: LimitSample = 'ignored';
    try {
      const result = await send();
      sample = { latencyMs: performance.now() - started };
      return result;
    } catch (error) {
      sample = limitSample(error, performance.now() - started);
      throw error;
    } finally {
      limit.release(sample);
    }
  }

  private async once<T>(what: string, path: string, options: RequestOptions, write: boolean, token: string | undefined): Promise<T> {
    await this.limiter?.acquire();
    // Counted from when the rate limit lets the request go, so waiting for a token never times it out.
    const allowedMs = options.timeoutMs ?? ((write && this.options.writeTimeoutMs) || this.options.timeoutMs);
    const timeoutMs = Math.max(1, Math.min(allowedMs, timeToDeadline()));
    const deadline = AbortSignal.timeout(timeoutMs);
    const pool = this.pool();
    if (write) this.counters.writes++;
    try {
      const response = await this.send(path, options, either(options.signal, deadline), pool, token);
      return await answer<T>(what, response);
    } catch (error) {
      const failure = this.noAnswer(error, what, { deadline, ms: timeoutMs, pool });
      if (write && failure instanceof NoAnswerError && deadline.aborted) this.abandoned(what, timeoutMs);
      throw failure;
    } finally {
      this.lastActive = Date.now();
    }
  }

  /** The pool for the next request: a fresh one when the current one's connections sat idle too long. */
  private pool(): HttpAgent {
    if (Date.now() - this.lastActive > (this.options.idleConnectionMs ?? IDLE_CONNECTION_MS)) this.resetConnections();
    this.lastActive = Date.now();
    return this.agent;
  }

  /**
   * A streamed GET (a watch): hands each line to `onLine` until the server ends the stream.
   * Rejects with NoAnswerError when the stream goes silent for `idleTimeoutMs`.
   */
  async stream(path: string, options: StreamOptions): Promise<void> {
    const what = describeRequest('GET', path);
    await this.limiter?.acquire();
    const idle = new AbortController();
    let timer = setTimeout(() => idle.abort(), options.idleTimeoutMs);
    const alive = () => {
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(), options.idleTimeoutMs);
    };
    const pool = this.pool();
    let token: string | undefined;
    try {
      token = await this.endpoint.token?.();
      const response = await this.send(path, options, either(options.signal, idle.signal), pool, token);
      if ((response.statusCode ?? 0) >= 300) await answer(what, response);
      await forEachLine(response, options.onLine, alive);
    } catch (error) {
      // The caller starts the watch again; with a new token, if its source has one.
      this.rejected(error, token);
      throw this.noAnswer(error, what, { deadline: idle.signal, ms: options.idleTimeoutMs, pool });
    } finally {
      clearTimeout(timer);
      this.lastActive = Date.now();
    }
  }

  private newAgent(): HttpAgent {
    const { ca, cert, key, insecureSkipTlsVerify, tlsServerName } = this.endpoint;
    if (this.base.protocol === 'http:') return new HttpAgent({ keepAlive: true });
    return new HttpsAgent({ keepAlive: true, ca, cert, key, rejectUnauthorized: !insecureSkipTlsVerify, servername: tlsServerName });
  }

  private async send(path: string, options: RequestOptions, signal: AbortSignal, pool: HttpAgent, token: string | undefined): Promise<IncomingMessage> {
    this.counters.requests++;
    // Under the server's own path, if it has one: `new URL('/api', base)` would drop it.
    const url = new URL(this.base.pathname.replace(/\/+$/, '') + path, this.base);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers = this.headers(options, token, body);
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const request = send(url, { method: options.method ?? 'GET', headers, agent: pool, signal }, resolve);
      request.on('error', reject);
      this.limitConnecting(request);
      request.end(body);
    });
  }

  private abandoned(what: string, ms: number): void {
    this.counters.abandonedWrites++;
    this.options.onCongestion?.({ kind: 'abandoned', what, ms });
  }

  /** A new connection must be made (TCP and TLS) within the dead-connection timeout, whatever the answer may take. */
  private limitConnecting(request: ClientRequest): void {
    request.once('socket', (socket) => {
      if (!socket.connecting) return;
      const ms = this.options.timeoutMs;
      const timer = setTimeout(() => request.destroy(new NoAnswerError(`${request.method} ${request.path}: no connection within ${ms} ms`, {})), ms);
      timer.unref();
      socket.once(this.base.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    });
  }

  private headers(options: RequestOptions, token: string | undefined, body: string | undefined): Record<string, string | string[]> {
    const headers: Record<string, string | string[]> = { ...this.endpoint.headers, accept: options.accept ?? 'application/json', 'user-agent': this.options.userAgent ?? 'stimulated-peering' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return headers;
  }

  /** A request that got no answer in time, or none at all: the caller's own abort passes through. */
  private noAnswer(error: unknown, what: string, { deadline, ms, pool }: { deadline: AbortSignal; ms: number; pool: HttpAgent }): unknown {
    if (error instanceof ApiError) return error;
    if (deadline.aborted) {
      // The connection may be dead: the next request gets a new one.
      this.resetConnections(pool);
      return new NoAnswerError(what, { ms, cause: error });
    }
    if (error instanceof Error && error.name === 'AbortError') return error;
    return new NoAnswerError(what, { cause: error });
  }
}

/** The caller's cancellation and ours, whichever comes first. */
function either(signal: AbortSignal | undefined, ours: AbortSignal): AbortSignal {
  return signal ? AbortSignal.any([signal, ours]) : ours;
}

function readBody(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.on('error', reject);
  });
}

/** Hands each non-empty line of a streamed answer to `onLine`; `alive` hears every chunk. */
async function forEachLine(response: IncomingMessage, onLine: (line: string) => void, alive: () => void): Promise<void> {
  let pending = '';
  response.setEncoding('utf8');
  for await (const chunk of response as AsyncIterable<string>) {
    alive();
    const lines = (pending + chunk).split('\n');
    pending = lines.pop()!;
    for (const line of lines) if (line.trim() !== '') onLine(line);
  }
  if (pending.trim() !== '') onLine(pending);
}

/** The answer's JSON (undefined when empty) or, for a text answer, its text; an ApiError for a failure. */
async function answer<T>(what: string, response: IncomingMessage): Promise<T> {
  const body = await readBody(response);
  const code = response.statusCode ?? 0;
  const ok = code >= 200 && code < 300;
  if (ok && !/\bjson\b/.test(response.headers['content-type'] ?? 'application/json')) return body as T;
  if (ok) return (body === '' ? undefined : JSON.parse(body)) as T;
  throw new ApiError(what, code, statusOf(body), retryAfterMs(response.headers['retry-after']));
}

/** Retry-After in seconds or as an HTTP date, in milliseconds from now. */
export function retryAfterMs(header: string | undefined, now = Date.now()): number | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * How long to wait before sending a request again that the API server turned away before doing
 * anything: a 429 (API Priority and Fairness, or max-in-flight), or a 503 that says when to come
 * back. Undefined for any other failure, and after MAX_THROTTLED_RETRIES.
 */
function throttledDelay(error: unknown, attempt: number): number | undefined {
  if (!(error instanceof ApiError) || attempt >= MAX_THROTTLED_RETRIES) return undefined;
  if (error.code === 429) return error.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
  if (error.code === 503 && error.retryAfterMs !== undefined) return error.retryAfterMs;
  return undefined;
}

/** What a failed write tells the adaptive limit: turned away or unanswered is a drop; an answer is a latency. */
function limitSample(error: unknown, latencyMs: number): LimitSample {
  if (error instanceof ApiError) return error.code === 429 || error.code === 503 ? 'dropped' : { latencyMs };
  // Given up waiting; a connection refused or reset says nothing of the load.
  if (error instanceof NoAnswerError && error.ms !== undefined) return 'dropped';
  return 'ignored';
}

function statusOf(body: string): ApiStatus {
  try {
    return JSON.parse(body) as ApiStatus;
  } catch {
    return { message: body.slice(0, 500) };
  }
}
