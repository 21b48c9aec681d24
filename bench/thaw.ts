// What the first request of a thawed Lambda invocation pays on a kept-alive connection that died
// while the process was frozen, with the client's idle-connection limit (the fix) and without it
// (as before). The client runs in a process of its own that is stopped (SIGSTOP) between two
// requests, as Lambda freezes a function between invocations, while either:
// - the server closes the idle connection (the API server does after 90 s): modelled at a third
//   of the time scale, a server idle timeout of 600 ms and a client idle limit of 200 ms, as 90 s
//   to 30 s; or
// - a NAT or load balancer forgets it, so nothing more arrives on it (a FreezableProxy in front),
//   against the default request timeout of 10 s.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { LoopbackHttpsServer } from '../test/support/https-server.js';
import { FreezableProxy } from '../test/support/freezable-proxy.js';
import { percentile, round } from './stats.js';

interface Outcome {
  ms: number;
  error?: string;
}

class FrozenClient {
  private readonly lines: AsyncIterator<string>;

  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  static start(settings: { server: string; ca: string; timeoutMs: number; idleConnectionMs: number }): FrozenClient {
    const child = spawn(process.execPath, ['--import', 'tsx', new URL('./thaw-client.ts', import.meta.url).pathname, JSON.stringify(settings)]);
    return new FrozenClient(child);
  }

  async request(): Promise<Outcome> {
    this.child.stdin.write('go\n');
    return JSON.parse((await this.lines.next()).value as string) as Outcome;
  }

  /** Stopped for `ms` while `meanwhile` runs; the next request is queued before the thaw, as an invocation is. */
  async frozen(ms: number, meanwhile: () => void): Promise<Outcome> {
    this.child.kill('SIGSTOP');
    meanwhile();
    await sleep(ms);
    this.child.stdin.write('go\n');
    this.child.kill('SIGCONT');
    return JSON.parse((await this.lines.next()).value as string) as Outcome;
  }

  stop(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}

async function thawedRequests(runs: number, settings: { server: string; ca: string; timeoutMs: number; idleConnectionMs: number }, freeze: { ms: number; meanwhile: () => void }): Promise<Outcome[]> {
  const client = FrozenClient.start(settings);
  const outcomes: Outcome[] = [];
  try {
    await client.request();
    for (let run = 0; run < runs; run++) {
      outcomes.push(await client.frozen(freeze.ms, freeze.meanwhile));
      // Back on a live connection for the next round.
      await client.request();
    }
  } finally {
    client.stop();
  }
  return outcomes;
}

function summary(prefix: string, outcomes: Outcome[]): Record<string, number> {
  const failed = outcomes.filter((outcome) => outcome.error);
  for (const outcome of failed.slice(0, 1)) console.error(`${prefix}: ${outcome.error}`);
  return {
    [`${prefix}.failed_of_${outcomes.length}`]: failed.length,
    [`${prefix}.p50_ms`]: round(percentile(outcomes.map((o) => o.ms), 50)),
    [`${prefix}.max_ms`]: round(Math.max(...outcomes.map((o) => o.ms))),
  };
}

export async function benchThaw(runs = 20): Promise<Record<string, number>> {
  const server = await LoopbackHttpsServer.start();
  const proxy = await FreezableProxy.start({ host: '127.0.0.1', port: Number(new URL(server.url).port) });
  const figures: Record<string, number> = {};
  try {
    const ca = server.ca.toString('utf8');
    server.keepAliveTimeout = 600;
    for (const [name, idleConnectionMs] of [['before', Infinity], ['after', 200]] as const) {
      const closed = await thawedRequests(runs, { server: server.url, ca, timeoutMs: 10_000, idleConnectionMs }, { ms: 1000, meanwhile: () => {} });
      Object.assign(figures, summary(`thaw.server_closed.${name}`, closed));
    }
    server.keepAliveTimeout = 600_000;
    const proxied = `https://127.0.0.1:${proxy.port}`;
    for (const [name, idleConnectionMs] of [['before', Infinity], ['after', 200]] as const) {
      const forgotten = await thawedRequests(Math.min(runs, 3), { server: proxied, ca, timeoutMs: 10_000, idleConnectionMs }, { ms: 1000, meanwhile: () => proxy.freezeOpenConnections() });
      Object.assign(figures, summary(`thaw.connection_forgotten.${name}`, forgotten));
    }
  } finally {
    await proxy.close();
    await server.close();
  }
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await benchThaw());
