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
  const text = await client.request<string>('/metrics', { accept: 'text/plain' });
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(line.indexOf('{') + 1, line.lastIndexOf('}'));
    const found = Object.fromEntries([...labelText.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1], match[2]]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
