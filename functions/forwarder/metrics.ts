// The forwarder's Prometheus metrics, one registry per forwarder so that two instances in one
// process (tests) keep their own counts.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  /** The publisher of the current leadership, if leading. */
  let publishing: { stuck(): boolean; stuckFor(): number } | undefined;
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'forwarder_' });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => new Counter<L>({ name, help, labelNames, registers: [registry] });
  const lastEventAt = new Map<string, number>();
  return {
    registry,
    observed: counter('forwarder_events_observed_total', 'Watch and list events seen, by resource and change.', ['resource', 'change']),
    coalesced: counter('forwarder_events_coalesced_total', 'Events merged into a newer one for the same object before sending.'),
    published: counter('forwarder_events_published_total', 'Events the bus accepted.'),
    failed: counter('forwarder_events_failed_total', 'Event sends that failed, by reason; each is retried unless the reason is "rejected".', ['reason']),
    retried: counter('forwarder_events_retried_total', 'Events put back for another send after a failure.'),
    watchRestarts: counter('forwarder_watch_restarts_total', 'Watches started again, by resource and reason.', ['resource', 'reason']),
    queueDepth: new Gauge({ name: 'forwarder_queue_depth', help: 'Events waiting, backing off or in flight.', registers: [registry] }),
    leader: new Gauge({ name: 'forwarder_leader', help: '1 while this instance holds the lease and publishes.', registers: [registry] }),
    lastEventAge: new Gauge({
      name: 'forwarder_last_watch_event_age_seconds',
      help: 'Seconds since the list or watch of each resource last delivered anything (a list, events or bookmarks).',
      labelNames: ['resource'] as const,
      registers: [registry],
      collect() {
        const now = Date.now();
        for (const [resource, at] of lastEventAt) this.set({ resource }, (now - at) / 1000);
      },
    }),
    publishStuck: new Gauge({
      name: 'forwarder_publish_stuck',
      help: '1 while events wait and none has reached the bus for PUBLISH_STUCK_SECONDS: the bus refuses them or cannot be reached (busy is not stuck).',
      registers: [registry],
      collect() {
        this.set(publishing?.stuck() ? 1 : 0);
      },
    }),
    publishWaitSeconds: new Gauge({
      name: 'forwarder_publish_wait_seconds',
      help: 'Seconds events have waited with none reaching the bus (0 when nothing waits or the bus accepts events).',
      registers: [registry],
      collect() {
        this.set((publishing?.stuckFor() ?? 0) / 1000);
      },
    }),
    /** Tells the stuck gauges whose publishing to watch (undefined when not leading). */
    watchPublishing(current: typeof publishing): void {
      publishing = current;
    },
    /** Records that a watch of `resource` is alive. */
    watchActivity(resource: string): void {
      lastEventAt.set(resource, Date.now());
    },
  };
}

export type ForwarderMetrics = ReturnType<typeof createMetrics>;

/** The current value of a counter or gauge with these labels (0 when never set); for tests and the benchmark. */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((value) => Object.entries(labels).every(([key, wanted]) => String(value.labels[key]) === wanted))
    .reduce((sum, value) => sum + value.value, 0);
}
