// Connections to the apiserver that the forwarder can throw away. undici multiplexes requests
// over one HTTP/2 connection and does not notice when that connection dies without closing (its
// PINGs have no timeout): a pool shared for good would hang every later request, the watches'
// restarts included. So each watch gets a connection of its own, closed when the watch ends, and
// the pool for short requests (lists, the Lease) is replaced when a request goes unanswered.
import { KubeConfig, type RequestContext } from '@kubernetes/client-node';
import { ClusterConfig, RateLimiter, type RateLimit } from '../core/cluster-access.js';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/** A copy of `base`'s cluster and user: the same credentials, none of its connection sharing. */
function copyOf(target: KubeConfig, base: KubeConfig): void {
  const cluster = base.getCurrentCluster();
  const user = base.getCurrentUser();
  if (!cluster || !user) throw new Error('the cluster configuration has no current cluster or user');
  target.loadFromClusterAndUser(cluster, user);
}

/** Short requests share one pool, rate-limited, until `reset` replaces it. */
export class ResettableConnections extends ClusterConfig {
  constructor(
    private readonly base: KubeConfig,
    rateLimit: RateLimit,
  ) {
    super(new RateLimiter(rateLimit.qps, rateLimit.burst));
    copyOf(this, base);
  }

  /** Closes the pool's connections, failing what is in flight; the next request opens new ones. */
  reset(): void {
    this.resetConnections({ abortInFlight: true });
  }

  /** A configuration whose requests each open a connection of their own, for one watch. */
  dedicated(): DedicatedConnection {
    return new DedicatedConnection(this.base);
  }
}

export class DedicatedConnection extends KubeConfig {
  private readonly opened: Dispatcher[] = [];

  constructor(base: KubeConfig) {
    super();
    copyOf(this, base);
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const dispatcher = context.getDispatcher();
    if (dispatcher) this.opened.push(dispatcher);
  }

  close(): void {
    for (const dispatcher of this.opened.splice(0)) void dispatcher.destroy().catch(() => undefined);
  }
}
