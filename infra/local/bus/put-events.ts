// An EventBridge PutEvents endpoint, on loopback unless told another address (pods reach it on the
// host's address on the pod network), speaking the AWS JSON 1.1 protocol that
// @aws-sdk/client-eventbridge uses (X-Amz-Target: AWSEvents.PutEvents). It checks a request as
// EventBridge does and hands its entries to a handler, which answers each entry or fails the
// request whole. The local bus and the forwarder's benchmark and tests put it in front of their own
// handling.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PutEventsEntry {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  EventBusName?: string;
  Resources?: string[];
  Time?: string;
}

/** What happened to one entry: accepted (with the event's id) or refused. */
export type EntryResult = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

/** A whole request refused: an AWS error type and HTTP status. */
export class PutEventsRefusal extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'PutEventsRefusal';
  }
}

/** Answers a request's entries in order; throws a PutEventsRefusal to fail it whole. A promise that never settles never answers. */
export type PutEventsHandler = (entries: PutEventsEntry[]) => EntryResult[] | Promise<EntryResult[]>;

/** EventBridge's limits on one request. */
const maxEntries = 10;
const maxRequestBytes = 256 * 1024;

export class PutEventsServer {
  private constructor(
    private readonly server: Server,
    private readonly host: string,
  ) {}

  /** Listens on a free port of `host`: loopback, or the host's address on the pod network when pods must reach it. */
  static async start(handler: PutEventsHandler, host = '127.0.0.1'): Promise<PutEventsServer> {
    const server = createServer((request, response) => void answer(request, response, handler));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, resolve);
    });
    return new PutEventsServer(server, host);
  }

  get url(): string {
    return `http://${this.host}:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function answer(request: IncomingMessage, response: ServerResponse, handler: PutEventsHandler): Promise<void> {
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const entries = parseRequest(request, Buffer.concat(chunks));
    const results = await handler(entries);
    const failed = results.filter((result) => 'ErrorCode' in result).length;
    reply(response, 200, { FailedEntryCount: failed, Entries: results });
  } catch (error) {
    const refusal = error instanceof PutEventsRefusal ? error : new PutEventsRefusal('InternalException', (error as Error).message, 500);
    reply(response, refusal.status, { __type: refusal.type, message: refusal.message });
  }
}

function parseRequest(request: IncomingMessage, body: Buffer): PutEventsEntry[] {
  const target = request.headers['x-amz-target'];
  if (request.method !== 'POST' || target !== 'AWSEvents.PutEvents') {
    throw new PutEventsRefusal('UnknownOperationException', `unsupported operation ${String(target)}`);
  }
  if (body.length > maxRequestBytes) throw new PutEventsRefusal('ValidationException', 'Total size of the entries in the request is over the limit.');
  const entries = (JSON.parse(body.toString('utf8')) as { Entries?: PutEventsEntry[] }).Entries ?? [];
  if (entries.length === 0 || entries.length > maxEntries) {
    throw new PutEventsRefusal('ValidationException', `1 to ${maxEntries} entries allowed, got ${entries.length}`);
  }
  return entries;
}

function reply(response: ServerResponse, status: number, body: { __type?: string; [field: string]: unknown }): void {
  const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() };
  if (body.__type) headers['x-amzn-errortype'] = body.__type;
  response.writeHead(status, headers).end(JSON.stringify(body));
}
