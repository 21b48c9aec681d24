// Wires the forwarder together: leader election decides when this instance works; while it
// leads, one watcher per collection feeds one bounded queue and the publisher empties it.
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { Logger } from '@aws-lambda-powertools/logger';
import type { AddressInfo } from 'node:net';
import { loadClusterConfig } from '../core/cluster-access.js';
import { KIND } from '../core/kindcustomhttp.js';
import type { ForwarderConfig } from './config.js';
import { ResettableConnections } from './connections.js';
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

export async function startForwarder(config: ForwarderConfig, deps: ForwarderDependencies = {}): Promise<ForwarderHandle> {
  const log = deps.log ?? createLogger(config);
  const metrics = createMetrics({ defaultMetrics: deps.defaultMetrics });
  const kube = new ResettableConnections(
    loadClusterConfig(config.CLUSTER_ACCESS === 'in-cluster' ? { mode: 'in-cluster' } : { mode: 'kubeconfig', path: config.KUBECONFIG!, context: config.KUBE_CONTEXT }),
    { qps: config.KUBE_API_QPS, burst: config.KUBE_API_BURST },
  );
  const send = deps.send ?? eventBridgeSender(eventBridgeClient(config), config.PUT_EVENTS_TIMEOUT_MS);
  const backoff = { baseMs: config.RETRY_BASE_MS, maxMs: config.RETRY_MAX_MS };
  const namespaces = config.WATCH_NAMESPACES.length > 0 ? config.WATCH_NAMESPACES : [undefined];
  const stopping = new AbortController();
  let session: { queue: PublishQueue; watchers: ResourceWatcher[] } | undefined;
  let failed = false;

  /** One leadership: watch and publish until `signal` aborts; drain only when shutting down. */
  async function lead(signal: AbortSignal): Promise<void> {
    const queue = new PublishQueue({ capacity: config.QUEUE_CAPACITY, coalesceMs: config.COALESCE_MS });
    const publisher = new Publisher(queue, send, { busName: config.EVENT_BUS_NAME, concurrency: config.PUBLISH_CONCURRENCY, backoff }, metrics, log);
    const watcherOptions = { silenceMs: config.WATCH_SILENCE_SECONDS * 1000, pageSize: config.LIST_PAGE_SIZE, backoff: { baseMs: 200, maxMs: 10_000 } };
    const watchers = namespaces.flatMap(watchedResources).map(
      (resource) => new ResourceWatcher(resource, kube, queue, metrics, log, { ...watcherOptions, syncOnFirstList: resource.kind === KIND }),
    );
    session = { queue, watchers };
    metrics.leader.set(1);
    const publishing = new AbortController();
    const published = publisher.run(publishing.signal);
    await Promise.all(watchers.map((watcher) => watcher.run(signal)));
    // A successor lists everything again, so after losing the lease the queue can be dropped;
    // on shutdown it is sent first, since nobody may be there to take over.
    if (stopping.signal.aborted) {
      const drained = await publisher.drain(config.DRAIN_SECONDS * 1000);
      log.info('drained the queue', { drained, left: queue.depth });
    }
    publishing.abort();
    await published;
    metrics.leader.set(0);
    metrics.queueDepth.set(0);
    session = undefined;
  }

  const elector = config.LEADER_ELECTION
    ? new LeaderElector(
        kube,
        {
          namespace: config.POD_NAMESPACE!,
          name: config.LEASE_NAME,
          identity: config.POD_NAME,
          leaseDurationMs: config.LEASE_DURATION_SECONDS * 1000,
          renewDeadlineMs: config.LEASE_RENEW_DEADLINE_SECONDS * 1000,
          retryPeriodMs: config.LEASE_RETRY_PERIOD_SECONDS * 1000,
          onNoAnswer: () => kube.reset(),
        },
        log,
      )
    : undefined;
  const running = (elector ? elector.run(stopping.signal, lead) : lead(stopping.signal)).then(
    () => {
      if (!stopping.signal.aborted) throw new Error('the forwarder stopped working without being asked to');
    },
  ).catch((error: unknown) => {
    failed = true;
    log.error('the forwarder stopped working; /healthz fails until it is restarted', { error: String(error), cause: String((error as Error).cause ?? '') });
  });

  const server = await startHttpServer(config.HTTP_PORT, metrics.registry, {
    live: () => !failed,
    ready: () => {
      if (session) return session.watchers.every((watcher) => watcher.synced);
      return !!elector && Date.now() - elector.lastContact < config.LEASE_DURATION_SECONDS * 1000;
    },
  });
  log.info('forwarder started', { bus: config.EVENT_BUS_NAME, namespaces: config.WATCH_NAMESPACES, leaderElection: config.LEADER_ELECTION });

  return {
    metrics,
    port: (server.address() as AddressInfo).port,
    leading: () => session !== undefined,
    done: running,
    live: () => !failed,
    queue: () => session?.queue,
    async shutdown() {
      stopping.abort();
      await running;
      await new Promise((resolve) => server.close(resolve));
      log.info('forwarder stopped');
    },
  };
}
