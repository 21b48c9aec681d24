// Wires the forwarder together: leader election decides when this instance works; while it
// leads, one watcher per collection feeds one bounded work queue and the publisher empties it.
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { Logger } from '@aws-lambda-powertools/logger';
import type { AddressInfo } from 'node:net';
import { clusterEndpoint } from '../core/cluster-endpoint.js';
import { KubeClient } from '../core/kube-client.js';
import type { ForwarderConfig } from './config.js';
import { startHttpServer } from './http.js';
import { LeaderElector } from './leader.js';
import { watchedResources } from './mapping.js';
import { createMetrics, type ForwarderMetrics } from './metrics.js';
import { Publisher, eventBridgeSender, type SendBatch } from './publisher.js';
import { PublishQueue } from './queue.js';
import { ResourceWatcher } from './watcher.js';

export interface ForwarderHandle {
  metrics: ForwarderMetrics;
  /** The port of /healthz, /readyz and /metrics. */
  port: number;
  leading(): boolean;
  /** False once it has stopped working by itself (a fault); /healthz says the same. */
  live(): boolean;
  /** What /readyz answers. */
  ready(): boolean;
  /** Settles when it stops working, asked to or not. */
  done: Promise<void>;
  /** The queue of the current leadership, if leading. */
  queue(): PublishQueue | undefined;
  /** What SIGTERM does: stop watching, send what is queued, release the Lease, close the server. */
  shutdown(): Promise<void>;
}

export interface ForwarderDependencies {
  log?: Logger;
  /** Another way to send batches; the EventBridge client otherwise. */
  send?: SendBatch;
  defaultMetrics?: boolean;
}

export function createLogger(config: Pick<ForwarderConfig, 'LOG_LEVEL' | 'POD_NAME'>): Logger {
  return new Logger({ serviceName: 'kindcustomhttp-forwarder', logLevel: config.LOG_LEVEL, persistentKeys: { instance: config.POD_NAME } });
}

function eventBridgeClient(config: ForwarderConfig): EventBridgeClient {
  // One attempt per send: the publisher retries with its own backoff and counts every failure.
  return new EventBridgeClient({ region: config.AWS_REGION, endpoint: config.EVENTBRIDGE_ENDPOINT, maxAttempts: 1 });
}

function kubeClient(config: ForwarderConfig): KubeClient {
  const access = config.CLUSTER_ACCESS === 'in-cluster' ? { mode: 'in-cluster' as const } : { mode: 'kubeconfig' as const, path: config.KUBECONFIG!, context: config.KUBE_CONTEXT };
  return new KubeClient(clusterEndpoint(access), {
    rateLimit: { qps: config.KUBE_API_QPS, burst: config.KUBE_API_BURST },
    timeoutMs: config.KUBE_API_TIMEOUT_MS,
    userAgent: 'stimulated-peering-forwarder',
  });
}

function leaderElector(config: ForwarderConfig, client: KubeClient, log: Logger): LeaderElector | undefined {
  if (!config.LEADER_ELECTION) return undefined;
  const options = {
    namespace: config.POD_NAMESPACE!,
    name: config.LEASE_NAME,
    identity: config.POD_NAME,
    leaseDurationMs: config.LEASE_DURATION_SECONDS * 1000,
    renewDeadlineMs: config.LEASE_RENEW_DEADLINE_SECONDS * 1000,
    retryPeriodMs: config.LEASE_RETRY_PERIOD_SECONDS * 1000,
  };
  return new LeaderElector(client, options, log);
}

interface Session {
  queue: PublishQueue;
  publisher: Publisher;
  watchers: ResourceWatcher[];
}

export async function startForwarder(config: ForwarderConfig, deps: ForwarderDependencies = {}): Promise<ForwarderHandle> {
  const log = deps.log ?? createLogger(config);
  const metrics = createMetrics({ defaultMetrics: deps.defaultMetrics });
  const client = kubeClient(config);
  const send = deps.send ?? eventBridgeSender(eventBridgeClient(config), config.PUT_EVENTS_TIMEOUT_MS);
  const namespaces = config.WATCH_NAMESPACES.length > 0 ? config.WATCH_NAMESPACES : [undefined];
  const stopping = new AbortController();
  let session: Session | undefined;
  let failed = false;

  function newSession(): Session {
    const queue = new PublishQueue({ capacity: config.QUEUE_CAPACITY });
    const publisher = new Publisher(
      queue,
      send,
      {
        busName: config.EVENT_BUS_NAME,
        concurrency: config.PUBLISH_CONCURRENCY,
        backoff: { baseMs: config.RETRY_BASE_MS, maxMs: config.RETRY_MAX_MS },
        rate: config.PUBLISH_RATE ? { qps: config.PUBLISH_RATE, burst: Math.max(1, Math.ceil(config.PUBLISH_RATE)) } : undefined,
        stuckAfterMs: config.PUBLISH_STUCK_SECONDS * 1000,
      },
      metrics,
      log,
    );
    const watcherOptions = { silenceMs: config.WATCH_SILENCE_SECONDS * 1000, pageSize: config.LIST_PAGE_SIZE, backoff: { baseMs: 200, maxMs: 10_000 } };
    const watchers = namespaces.flatMap(watchedResources).map((resource) => new ResourceWatcher(resource, client, queue, metrics, log, watcherOptions));
    return { queue, publisher, watchers };
  }

  /** One leadership: watch and publish until `signal` aborts; drain only when shutting down. */
  async function lead(signal: AbortSignal): Promise<void> {
    const current = newSession();
    session = current;
    metrics.leader.set(1);
    metrics.watchPublishing(current.publisher);
    const publishing = new AbortController();
    const published = current.publisher.run(publishing.signal);
    await Promise.all(current.watchers.map((watcher) => watcher.run(signal)));
    publishing.abort();
    await published;
    // A successor lists everything again, so after losing the lease the queue can be dropped;
    // on shutdown it is sent first, since nobody may be there to take over.
    if (stopping.signal.aborted) {
      const drained = await current.publisher.drain(config.DRAIN_SECONDS * 1000);
      log.info('drained the queue', { drained, left: current.queue.depth });
    }
    metrics.leader.set(0);
    metrics.queueDepth.set(0);
    metrics.watchPublishing(undefined);
    session = undefined;
  }

  const elector = leaderElector(config, client, log);
  const running = (elector ? elector.run(stopping.signal, lead) : lead(stopping.signal))
    .then(() => {
      if (!stopping.signal.aborted) throw new Error('the forwarder stopped working without being asked to');
    })
    .catch((error: unknown) => {
      failed = true;
      log.error('the forwarder stopped working; /healthz fails until it is restarted', { error });
    });

  /** Leading: every watch listed and the bus taking events (or none waiting); standing by: the Lease in view. */
  const ready = () => {
    if (session) return session.watchers.every((watcher) => watcher.synced) && !session.publisher.stuck();
    return !!elector && Date.now() - elector.lastContact < config.LEASE_DURATION_SECONDS * 1000;
  };
  const server = await startHttpServer(config.HTTP_PORT, metrics.registry, { live: () => !failed, ready });
  log.info('forwarder started', { bus: config.EVENT_BUS_NAME, namespaces: config.WATCH_NAMESPACES, leaderElection: config.LEADER_ELECTION });

  return {
    metrics,
    port: (server.address() as AddressInfo).port,
    leading: () => session !== undefined,
    done: running,
    live: () => !failed,
    ready,
    queue: () => session?.queue,
    async shutdown() {
      stopping.abort();
      await running;
      await new Promise((resolve) => server.close(resolve));
      log.info('forwarder stopped');
    },
  };
}
