// The peer server on real loopback sockets: peers that answer, one that never does, a missing
// hostports file, and a file changed the way kubelet changes a ConfigMap volume (a symlink swap).
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startPeerServer, type PeerServer } from './server.js';
import { defaultSettings, type PeerServerSettings } from './settings.js';

const fast: Partial<PeerServerSettings> = { host: '127.0.0.1', port: 0, firstPingDelayMs: 10, watchIntervalMs: 10 };

let dir: string;
const running: PeerServer[] = [];
const silent: Server[] = [];
const held: Socket[][] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'peer-server-'));
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.stop()));
  // close() waits for the connections, which a silent peer never ends itself.
  held.splice(0).flat().forEach((socket) => socket.destroy());
  await Promise.all(silent.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  rmSync(dir, { recursive: true, force: true });
});

async function start(settings: Partial<PeerServerSettings>, hostname = 'peer-a') {
  const lines: string[] = [];
  const server = await startPeerServer({ ...defaultSettings, ...fast, hostportsFile: join(dir, 'hostports'), ...settings }, { hostname, log: (line) => lines.push(line) });
  running.push(server);
  return { server, lines };
}

/** A peer that accepts connections and never answers; it records its sockets. */
async function neverAnswering(): Promise<{ port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    // Reads the request and drops it, so that the client's end of the connection is seen.
    socket.resume();
  });
  silent.push(server);
  held.push(sockets);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { port, sockets };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const count = (lines: string[], line: string) => lines.filter((l) => l === line).length;
const startsWith = (lines: string[], prefix: string) => lines.filter((l) => l.startsWith(prefix)).length;

describe('the peer server', () => {
  describe('when asked for /ping', () => {
    it('answers 200 with "pong from <hostname>" and no newline, and logs the same line', async () => {
      const { server, lines } = await start({}, 'pod-1');

      const response = await fetch(`http://127.0.0.1:${server.port}/ping`);

      expect(response.status).toBe(200);
      expect(await response.text()).toBe('pong from pod-1');
      expect(lines).toContain('pong from pod-1');
    });

    it('answers 404 for any other path', async () => {
      const { server, lines } = await start({});

      const response = await fetch(`http://127.0.0.1:${server.port}/pong`);

      expect(response.status).toBe(404);
      expect(lines.filter((l) => l.startsWith('pong'))).toEqual([]);
    });
  });

  describe('when the hostports file names peers', () => {
    it('pings each one after start and logs a pong for an answer and "not available" for an error', async () => {
      const b = await start({ hostportsFile: join(dir, 'none') }, 'peer-b');
      const closed = await neverAnswering();
      await new Promise((resolve) => silent.pop()!.close(resolve));
      writeFileSync(join(dir, 'hostports'), `127.0.0.1,${b.server.port}\n\n  not-a-pair  \n127.0.0.1,${closed.port}\n`);

      const { lines } = await start({});
      await waitFor('the first round', () => lines.some((l) => l.startsWith('Server not available')) && lines.some((l) => l.startsWith('pong from 127')));

      expect(lines).toContain(`pong from 127.0.0.1:${b.server.port}`);
      expect(lines).toContain('Invalid host-port configuration: not-a-pair');
      expect(lines).toContain(`Server not available at http://127.0.0.1:${closed.port}/ping`);
      expect(b.lines).toContain('pong from peer-b');
    });

    it('pings every peer of a round at once, so one that never answers delays no other peer', async () => {
      const hang = await neverAnswering();
      const b = await start({ hostportsFile: join(dir, 'none') }, 'peer-b');
      // The silent peer first: pinged one after the other, it would hold back peer-b for the timeout.
      writeFileSync(join(dir, 'hostports'), `127.0.0.1,${hang.port}\n127.0.0.1,${b.server.port}\n`);

      const { lines } = await start({ pingTimeoutMs: 1_000 });
      const notAvailable = `Server not available at http://127.0.0.1:${hang.port}/ping`;
      await waitFor('the silent peer to time out', () => lines.includes(notAvailable));

      expect(lines.indexOf(`pong from 127.0.0.1:${b.server.port}`)).toBeGreaterThanOrEqual(0);
      expect(lines.indexOf(`pong from 127.0.0.1:${b.server.port}`)).toBeLessThan(lines.indexOf(notAvailable));
    });

    it('keeps its rounds going while a peer never answers: each ping ends at its timeout', async () => {
      const hang = await neverAnswering();
      const b = await start({ hostportsFile: join(dir, 'none') }, 'peer-b');
      writeFileSync(join(dir, 'hostports'), `127.0.0.1,${hang.port}\n127.0.0.1,${b.server.port}\n`);

      const { lines } = await start({ pingTimeoutMs: 200, pingIntervalMs: 100 });
      const notAvailable = `Server not available at http://127.0.0.1:${hang.port}/ping`;
      await waitFor('three timed-out pings', () => count(lines, notAvailable) >= 3);

      expect(count(lines, `pong from 127.0.0.1:${b.server.port}`)).toBeGreaterThanOrEqual(3);
      // Every timed-out ping let go of its connection.
      await waitFor('the silent peer’s connections to close', () => hang.sockets.filter((s) => s.closed).length >= 3);
    });
  });

  describe('when the hostports file is missing', () => {
    it('says so once, fails each round quietly, and does not flood its log', async () => {
      const { lines } = await start({ pingIntervalMs: 50 });

      await waitFor('five failed rounds', () => startsWith(lines, 'Failed to read configuration: ') >= 5);

      expect(startsWith(lines, 'Configuration file ')).toBe(1);
      expect(lines.find((l) => l.startsWith('Configuration file '))).toBe(`Configuration file ${join(dir, 'hostports')} not found; checking for it every 10 ms`);
      // Nothing but the notice and one line per round: the watcher polled about 25 times meanwhile.
      expect(lines.length).toBe(1 + startsWith(lines, 'Failed to read configuration: '));
    });

    it('pings the peers as soon as the file appears, without waiting for the next round', async () => {
      const b = await start({ hostportsFile: join(dir, 'none') }, 'peer-b');
      const { lines } = await start({ pingIntervalMs: 600_000 });
      await waitFor('the first round to fail', () => startsWith(lines, 'Failed to read configuration: ') === 1);

      writeFileSync(join(dir, 'hostports'), `127.0.0.1,${b.server.port}\n`);

      await waitFor('the pong', () => lines.includes(`pong from 127.0.0.1:${b.server.port}`));
    });
  });

  describe('when a ConfigMap volume update swaps the symlink to the file', () => {
    it('notices the change and pings the new peers', async () => {
      const b = await start({ hostportsFile: join(dir, 'none') }, 'peer-b');
      const c = await start({ hostportsFile: join(dir, 'none') }, 'peer-c');
      // kubelet's layout: hostports -> ..data/hostports, ..data -> ..<timestamp>/
      const volume = join(dir, 'config');
      const version = (name: string, peer: PeerServer) => {
        mkdirSync(join(volume, name), { recursive: true });
        writeFileSync(join(volume, name, 'hostports'), `127.0.0.1,${peer.port}\n`);
      };
      version('..2026_12_04_15_00_00.1', b.server);
      symlinkSync('..2026_12_04_15_00_00.1', join(volume, '..data'));
      symlinkSync('..data/hostports', join(volume, 'hostports'));
      const { lines } = await start({ hostportsFile: join(volume, 'hostports'), pingIntervalMs: 600_000 });
      await waitFor('the first round', () => lines.includes(`pong from 127.0.0.1:${b.server.port}`));

      version('..2026_12_04_15_01_00.2', c.server);
      symlinkSync('..2026_12_04_15_01_00.2', join(volume, '..data_tmp'));
      renameSync(join(volume, '..data_tmp'), join(volume, '..data'));

      await waitFor('the new peer’s pong', () => lines.includes(`pong from 127.0.0.1:${c.server.port}`));
      expect(count(lines, `pong from 127.0.0.1:${b.server.port}`)).toBe(1);
    });
  });

  describe('when stopped', () => {
    it('ends the pings in flight and logs nothing more', async () => {
      const hang = await neverAnswering();
      writeFileSync(join(dir, 'hostports'), `127.0.0.1,${hang.port}\n`);
      const { server, lines } = await start({ pingTimeoutMs: 600_000 });
      await waitFor('the ping to connect', () => hang.sockets.length === 1);

      await server.stop();

      await waitFor('the ping’s connection to close', () => hang.sockets[0]!.closed);
      expect(lines).toEqual([]);
      await expect(fetch(`http://127.0.0.1:${server.port}/ping`)).rejects.toThrow();
    });
  });
});
