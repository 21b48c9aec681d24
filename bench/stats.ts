// Small helpers shared by the benchmarks.
import { ApiError, type KubeClient } from '../functions/core/kube-client.js';

export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = performance.now();
  const result = await work();
  return { result, ms: performance.now() - start };
}

/** Deletes a namespace and waits until it is gone, so the next measurement does not share the cluster with its clean-up. */
export async function deleteNamespaceAndWait(client: KubeClient, name: string, timeoutMs = 600_000): Promise<void> {
  await client.request(`/api/v1/namespaces/${name}`, { method: 'DELETE' });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await client.request(`/api/v1/namespaces/${name}`);
    } catch (error) {
      if (error instanceof ApiError && error.code === 404) return;
      throw error;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`namespace ${name} still exists after ${timeoutMs / 1000} s`);
}
