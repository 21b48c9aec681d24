// The client side of bench/thaw.ts, in a process of its own so that it can be frozen as Lambda
// freezes a function between invocations: one request per line read from stdin, each answered on
// stdout with its duration or its error.
import { createInterface } from 'node:readline';
import { KubeClient } from '../functions/core/kube-client.js';

const { server, ca, timeoutMs, idleConnectionMs } = JSON.parse(process.argv[2]!) as { server: string; ca: string; timeoutMs: number; idleConnectionMs: number };
const client = new KubeClient({ server, ca, token: async () => 't' }, { timeoutMs, idleConnectionMs });

for await (const _line of createInterface({ input: process.stdin })) {
  const started = performance.now();
  try {
    await client.request('/api');
    console.log(JSON.stringify({ ms: performance.now() - started }));
  } catch (error) {
    console.log(JSON.stringify({ ms: performance.now() - started, error: `${(error as Error).name}: ${(error as Error).message}; ${String((error as Error).cause)}` }));
  }
}
client.close();
