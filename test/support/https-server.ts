// A throwaway HTTPS server on loopback for the Kubernetes client's own tests: a self-signed
// certificate for 127.0.0.1 made with openssl, every request recorded (path and headers), every
// connection counted, each answered by a handler the test gives.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Every value of each header, as sent (repeated headers kept apart). */
  headersDistinct: NodeJS.Dict<string[]>;
}

export type Handler = (request: IncomingMessage, response: ServerResponse) => void;

export class LoopbackHttpsServer {
  readonly requests: SeenRequest[] = [];
  connections = 0;
  handler: Handler = (_request, response) => json(response, 200, { kind: 'Status', status: 'Success' });

  private constructor(
    private readonly server: Server,
    /** The PEM certificate, which is its own CA. */
    readonly ca: Buffer,
  ) {}

  static async start(): Promise<LoopbackHttpsServer> {
    const dir = mkdtempSync(join(tmpdir(), 'loopback-https-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      const [key, cert] = [readFileSync(join(dir, 'key.pem')), readFileSync(join(dir, 'cert.pem'))];
      const server = createServer({ key, cert });
      const self = new LoopbackHttpsServer(server, cert);
      server.on('request', (request: IncomingMessage, response: ServerResponse) => {
        self.requests.push({ method: request.method!, path: request.url!, headers: request.headers, headersDistinct: request.headersDistinct });
        self.handler(request, response);
      });
      server.on('secureConnection', () => self.connections++);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return self;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  get url(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** How long an idle kept-alive connection stays open on the server's side. */
  set keepAliveTimeout(ms: number) {
    this.server.keepAliveTimeout = ms;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export function json(response: ServerResponse, code: number, body: unknown): void {
  response.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
