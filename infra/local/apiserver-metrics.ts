// The apiserver's own figures: the requests it served (apiserver_request_total), for tests and
// benchmarks that must count what a client really sent rather than what the client says, and the
// watches open on it, for the local control plane to know its controllers are connected.
import type { KubeClient } from '../../functions/core/kube-client.js';

export type RequestLabels = Partial<Record<'verb' | 'resource' | 'subresource' | 'group' | 'code' | 'scope', string>>;

/** apiserver_request_total summed over the series whose labels match every one of `labels`. */
export function apiserverRequests(client: KubeClient, labels: RequestLabels): Promise<number> {
  return apiserverMetric(client, 'apiserver_request_total', labels);
}

/** Watches open on the apiserver now, from every client: each informer of every controller holds one. */
export function openWatches(client: KubeClient): Promise<number> {
  return apiserverMetric(client, 'apiserver_longrunning_requests', { verb: 'WATCH' });
}

/** A metric of the apiserver's /metrics, summed over the series whose labels match every one of `labels`. */
async function apiserverMetric(client: KubeClient, name: string, labels: RequestLabels): Promise<number> {
  let total = 0;
  for (const series of await apiserverSeries(client, name)) {
    if (Object.entries(labels).every(([key, value]) => series.labels[key] === value)) total += series.value;
  }
  return total;
}

async function apiserverSeries(client: KubeClient, name: string): Promise<Array<{ labels: Record<string, string>; value: number }>> {
  const text = await client.request<string>('/metrics', { accept: 'text/plain' });
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`))
    .map((line) => {
      const labelText = line.slice(line.indexOf('{') + 1, line.lastIndexOf('}'));
      const labels = Object.fromEntries([...labelText.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1]!, match[2]!]));
      return { labels, value: Number(line.slice(line.lastIndexOf(' ') + 1)) };
    });
}

/**
 * The apiserver's requests other than watches so far, by `VERB resource[/subresource]` (e.g.
 * `APPLY deployments`, `PATCH kindcustomhttps/status`); the difference of two is what was sent in between.
 */
export async function apiserverRequestsByKind(client: KubeClient): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const { labels, value } of await apiserverSeries(client, 'apiserver_request_total')) {
    if (labels.verb === 'WATCH') continue;
    const key = `${labels.verb} ${labels.resource || labels.scope || '-'}${labels.subresource ? `/${labels.subresource}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + value);
  }
  return counts;
}

/** What was sent between two readings of apiserverRequestsByKind, largest first. */
export function requestsBetween(before: Map<string, number>, after: Map<string, number>): Array<[string, number]> {
  return [...after].map(([key, count]): [string, number] => [key, count - (before.get(key) ?? 0)]).filter(([, count]) => count > 0).sort((a, b) => b[1] - a[1]);
}
