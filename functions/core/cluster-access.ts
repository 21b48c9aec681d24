// The forwarder's way to the cluster through @kubernetes/client-node, until it moves to the
// KubeClient (kube-client.ts) the functions use. Every client built here shares one connection
// pool and one client-side rate limit.
import { KubeConfig, type RequestContext } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import type { TokenSource } from './cluster-endpoint.js';
import { RateLimiter, type RateLimit } from './rate-limiter.js';

export { RateLimiter, type RateLimit };

/**
 * A KubeConfig that reuses one connection pool (client-node builds a new TLS agent per request
 * otherwise, paying a handshake each time), applies a client-side rate limit, and can take its
 * bearer token from a TokenSource.
 */
export class ClusterConfig extends KubeConfig {
  private sharedDispatcher: ReturnType<RequestContext['getDispatcher']>;
  /** Requests sent through this config so far, for metrics and benchmarks. */
  requestCount = 0;

  constructor(
    private readonly limiter?: RateLimiter,
    private readonly tokenSource?: TokenSource,
    /** Abort a request with no answer after this long, counted from when the rate limit lets it go. */
    private readonly requestTimeoutMs?: number,
  ) {
    super();
  }

  /**
   * Moves new requests to a fresh connection pool. A connection that silently died (a NAT or load
   * balancer forgot it) is never noticed otherwise, and every request sent on it hangs. Requests
   * under way on the old pool finish (or time out) first, unless `abortInFlight`.
   */
  resetConnections({ abortInFlight = false } = {}): void {
    const pool = this.sharedDispatcher;
    this.sharedDispatcher = undefined;
    void (abortInFlight ? pool?.destroy() : pool?.close())?.catch(() => undefined);
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    this.requestCount++;
    await this.limiter?.acquire();
    if (this.requestTimeoutMs && !context.getSignal()) context.setSignal(AbortSignal.timeout(this.requestTimeoutMs));
    await super.applySecurityAuthentication(context);
    // client-node makes a new dispatcher per request; keep the first and reuse it until reset.
    const fresh = context.getDispatcher();
    if (fresh) {
      this.sharedDispatcher ??= fresh;
      if (fresh !== this.sharedDispatcher) {
        context.setDispatcher(this.sharedDispatcher);
        void fresh.close();
      }
    }
    if (this.tokenSource) context.setHeaderParam('Authorization', `Bearer ${await this.tokenSource.token()}`);
  }
}

export interface EksClusterOptions {
  server: string;
  caData: string;
}

export type ClusterAccess =
  | { mode: 'kubeconfig'; path: string; context?: string }
  | { mode: 'in-cluster' }
  | { mode: 'eks'; cluster: EksClusterOptions; tokens: TokenSource }
  | { mode: 'kubeconfig-string'; kubeconfig: string };

/** Builds the KubeConfig for one of the access modes. */
export function loadClusterConfig(access: ClusterAccess, rateLimit?: RateLimit, requestTimeoutMs?: number): ClusterConfig {
  const limiter = rateLimit ? new RateLimiter(rateLimit.qps, rateLimit.burst) : undefined;
  const config = new ClusterConfig(limiter, access.mode === 'eks' ? access.tokens : undefined, requestTimeoutMs);
  switch (access.mode) {
    case 'kubeconfig':
      config.loadFromString(readFileSync(access.path, 'utf8'));
      if (access.context) config.setCurrentContext(access.context);
      // Relative certificate paths in a kubeconfig are relative to the file, as kubectl reads them.
      config.makePathsAbsolute(access.path.replace(/[^/]*$/, ''));
      break;
    case 'kubeconfig-string':
      config.loadFromString(access.kubeconfig);
      break;
    case 'in-cluster':
      config.loadFromCluster();
      break;
    case 'eks':
      config.loadFromClusterAndUser({ name: 'eks', server: access.cluster.server, caData: access.cluster.caData, skipTLSVerify: false }, { name: 'lambda' });
      break;
  }
  return config;
}
