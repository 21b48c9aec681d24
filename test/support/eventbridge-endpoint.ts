// A local EventBridge endpoint for tests: a node:http server speaking the AWS JSON 1.1 protocol's
// `AWSEvents.PutEvents`, which records every entry it accepts and can be told to fail, so the real
// @aws-sdk/client-eventbridge client can be pointed at it.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedEvent {
  id: string;
  bus: string;
  source: string;
  detailType: string;
  detail: Record<string, unknown> & { key: string; namespace: string; name: string; resourceVersion: string; change: string };
  /** Which PutEvents request brought it, counting from 1. */
  request: number;
}

/** What to do with one request: accept it, fail it whole, or fail some of its entries. */
export type Fault =
  | { kind: 'none' }
  | { kind: 'server-error'; status?: number }
  | { kind: 'throttle' }
  /** Refuses the request with this AWS error, as AWS does when permissions or the bus are wrong. */
  | { kind: 'refuse'; type: 'AccessDeniedException' | 'ResourceNotFoundException'; status?: number }
  /** Never answers (until the endpoint closes). */
  | { kind: 'hang' }
  | { kind: 'partial'; failIndexes: number[]; errorCode?: 'InternalFailure' | 'ThrottlingException' };

export type FaultPlan = (request: number, entries: number) => Fault;

interface PutEventsEntry {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  EventBusName?: string;
}

export class EventBridgeEndpoint {
  readonly events: RecordedEvent[] = [];
  /** Requests seen, and how many entries each carried. */
  readonly requests: Array<{ entries: number; fault: Fault['kind'] }> = [];
  private plan: FaultPlan = () => ({ kind: 'none' });

  private constructor(private readonly server: Server) {}

  static async start(): Promise<EventBridgeEndpoint> {
    const server = createServer();
    const endpoint = new EventBridgeEndpoint(server);
    server.on('request', (request, response) => void endpoint.handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return endpoint;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Decides the fate of every following request; `() => ({ kind: 'none' })` heals it. */
  setFaults(plan: FaultPlan): void {
    this.plan = plan;
  }

  /** The events recorded for one object, in arrival order. */
  eventsFor(name: string, namespace?: string): RecordedEvent[] {
    return this.events.filter((e) => e.detail.name === name && (namespace === undefined || e.detail.namespace === namespace));
  }

  /** True when an event for this object at this version (and change, if given) has arrived. */
  has(name: string, resourceVersion: string, change?: string): boolean {
    return this.events.some((e) => e.detail.name === name && e.detail.resourceVersion === resourceVersion && (!change || e.detail.change === change));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const target = request.headers['x-amz-target'];
    if (request.method !== 'POST' || target !== 'AWSEvents.PutEvents') {
      return reply(response, 400, { __type: 'UnknownOperationException', message: `unsupported target ${String(target)}` });
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Entries?: PutEventsEntry[] };
    const entries = body.Entries ?? [];
    if (entries.length === 0 || entries.length > 10) {
      return reply(response, 400, { __type: 'ValidationException', message: `1 to 10 entries allowed, got ${entries.length}` });
    }
    const number = this.requests.length + 1;
    const fault = this.plan(number, entries.length);
    this.requests.push({ entries: entries.length, fault: fault.kind });
    if (fault.kind === 'server-error') return reply(response, fault.status ?? 500, { __type: 'InternalException', message: 'injected server error' });
    if (fault.kind === 'throttle') return reply(response, 400, { __type: 'ThrottlingException', message: 'Rate exceeded' });
    if (fault.kind === 'refuse') return reply(response, fault.status ?? 400, { __type: fault.type, message: `injected ${fault.type}` });
    if (fault.kind === 'hang') return;
    const failing = new Set(fault.kind === 'partial' ? fault.failIndexes : []);
    const results = entries.map((entry, index) => {
      if (failing.has(index)) {
        return { ErrorCode: (fault.kind === 'partial' && fault.errorCode) || 'InternalFailure', ErrorMessage: 'injected entry failure' };
      }
      const id = randomUUID();
      this.events.push({
        id,
        bus: entry.EventBusName ?? 'default',
        source: entry.Source ?? '',
        detailType: entry.DetailType ?? '',
        detail: JSON.parse(entry.Detail ?? '{}') as RecordedEvent['detail'],
        request: number,
      });
      return { EventId: id };
    });
    reply(response, 200, { FailedEntryCount: failing.size, Entries: results });
  }
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() };
  const type = (body as { __type?: string }).__type;
  if (type) headers['x-amzn-errortype'] = type;
  response.writeHead(status, headers).end(JSON.stringify(body));
}
