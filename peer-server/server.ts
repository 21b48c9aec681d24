// The peer server: answers `GET /ping` with `pong from <hostname>`, pings the peers named in the
// hostports file 1 s after start, every 30 s after that and whenever the file changes, and stops
// promptly. Compatible with the original `measutosh/http-server`, without its faults (see
// ping.ts and watch.ts).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { stdoutLog, type Log } from './log.js';
import { pingRound } from './ping.js';
import type { PeerServerSettings } from './settings.js';
import { watchFile } from './watch.js';

export interface PeerServer {
  /** The port it listens on (the one asked for, or the one picked for port 0). */
  port: number;
  /** Stops pinging and watching, ends the pings in flight and closes every connection. */
  stop(): Promise<void>;
}

export interface PeerServerOptions {
  log?: Log;
  hostname?: string;
}

function pingHandler(name: string, log: Log): Parameters<typeof createServer>[1] {
  return (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/ping') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
      return;
    }
    const body = `pong from ${name}`;
    log(body);
    response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
  };
}

function listen(server: Server, settings: PeerServerSettings): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startPeerServer(settings: PeerServerSettings, options: PeerServerOptions = {}): Promise<PeerServer> {
  const log = options.log ?? stdoutLog;
  const server = createServer(pingHandler(options.hostname ?? osHostname(), log));
  const port = await listen(server, settings);

  const stopping = new AbortController();
  const round = () => void pingRound({ hostportsFile: settings.hostportsFile, timeoutMs: settings.pingTimeoutMs, log, signal: stopping.signal });
  let interval: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    round();
    interval = setInterval(round, settings.pingIntervalMs);
  }, settings.firstPingDelayMs);
  const watch = watchFile({ path: settings.hostportsFile, intervalMs: settings.watchIntervalMs, log, onChange: round });

  return {
    port,
    async stop() {
      clearTimeout(first);
      clearInterval(interval);
      watch.stop();
      stopping.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections would hold close() open until their clients leave.
      server.closeAllConnections();
      await closed;
    },
  };
}
