import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl, CurlUsageError, parseCurlArgs } from './curl.js';

function sink() {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

describe('the curl stand-in', () => {
  describe('parseCurlArgs', () => {
    it('takes a URL without a scheme as http, as curl does', () => {
      expect(parseCurlArgs(['10.0.0.7:8080/ping'])).toEqual({ url: 'http://10.0.0.7:8080/ping', silent: false, showError: false });
    });

    it('understands -s, -sS and --max-time', () => {
      expect(parseCurlArgs(['-sS', '--max-time', '2', 'http://a/ping'])).toEqual({ url: 'http://a/ping', silent: true, showError: true, maxTimeMs: 2000 });
    });

    it('refuses what it does not support rather than ignore it', () => {
      expect(() => parseCurlArgs(['-X', 'POST', 'a'])).toThrow(CurlUsageError);
      expect(() => parseCurlArgs([])).toThrow(/no URL/);
    });
  });

  describe('against a server on loopback', () => {
    let server: Server;
    let port: number;
    beforeAll(async () => {
      server = createServer((_request, response) => response.end('pong from pod-1'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise((resolve) => server.close(resolve)));

    it('writes the body of a GET to stdout and exits 0', async () => {
      const out = sink();
      const err = sink();

      const code = await curl([`127.0.0.1:${port}/ping`], out.stream, err.stream);

      expect(code).toBe(0);
      expect(out.text()).toBe('pong from pod-1');
      expect(err.text()).toBe('');
    });

    it("exits 7 when nothing listens, saying why unless -s", async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const closedPort = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      const loud = sink();
      const quiet = sink();

      expect(await curl([`127.0.0.1:${closedPort}/ping`], sink().stream, loud.stream)).toBe(7);
      expect(await curl(['-s', `127.0.0.1:${closedPort}/ping`], sink().stream, quiet.stream)).toBe(7);

      expect(loud.text()).toMatch(/^curl: \(7\) .*ECONNREFUSED/);
      expect(quiet.text()).toBe('');
    });
  });
});
