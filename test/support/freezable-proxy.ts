// A TCP proxy in front of the apiserver whose open connections can be frozen: bytes stop flowing
// both ways but the sockets stay open, as when a NAT or load balancer silently drops a connection.
// New connections still go through, so a client that notices the silence can recover. It can also
// play an outage: every connection refused (reset) until it is over; and a slow API server: every
// answer held back for a while, in order, as when the apiserver queues requests.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class FreezableProxy {
  private readonly pairs = new Set<[Socket, Socket]>();
  private down = false;
  private answerDelayMs = 0;

  private constructor(private readonly server: Server) {}

  static async start(target: { host: string; port: number }): Promise<FreezableProxy> {
    const server = createServer();
    const proxy = new FreezableProxy(server);
    server.on('connection', (client) => {
      if (proxy.down) return void client.resetAndDestroy();
      const upstream = connect(target.port, target.host);
      const pair: [Socket, Socket] = [client, upstream];
      proxy.pairs.add(pair);
      client.pipe(upstream);
      proxy.forwardAnswers(upstream, client);
      const close = () => {
        client.destroy();
        upstream.destroy();
        proxy.pairs.delete(pair);
      };
      client.on('close', close).on('error', close);
      upstream.on('close', close).on('error', close);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** What the apiserver sends goes on at once, or `answerDelayMs` later when answers are delayed; in order either way. */
  private forwardAnswers(upstream: Socket, client: Socket): void {
    let lastRelease = 0;
    upstream.on('data', (chunk: Buffer) => {
      if (this.answerDelayMs === 0 && lastRelease <= Date.now()) return void client.write(chunk);
      lastRelease = Math.max(Date.now() + this.answerDelayMs, lastRelease);
      setTimeout(() => client.writable && client.write(chunk), lastRelease - Date.now());
    });
    upstream.on('end', () => setTimeout(() => client.end(), Math.max(0, lastRelease - Date.now())));
  }

  /** Holds every answer back for `ms` from now on (0: none), on open connections and new ones. */
  delayAnswers(ms: number): void {
    this.answerDelayMs = ms;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Stops every open connection from carrying data, without closing it; returns how many. */
  freezeOpenConnections(): number {
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
    return this.pairs.size;
  }

  /** An outage: open connections are cut and new ones refused, until `recover`. */
  goDown(): void {
    this.down = true;
    for (const [client, upstream] of this.pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
  }

  recover(): void {
    this.down = false;
  }

  /** A copy of the kubeconfig at `path` whose server is this proxy. */
  kubeconfigFor(path: string): string {
    const original = readFileSync(path, 'utf8');
    const rewritten = original.replace(/server: https:\/\/[^\s/]+:\d+/, `server: https://127.0.0.1:${this.port}`);
    const copy = join(tmpdir(), `kubeconfig-proxy-${this.port}`);
    writeFileSync(copy, rewritten, { mode: 0o600 });
    return copy;
  }

  close(): Promise<void> {
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
