// A local EventBridge endpoint for tests: infra/local's PutEvents server (the AWS JSON 1.1 protocol
// of `AWSEvents.PutEvents`), recording every entry it accepts and able to fail on request, so the
// real @aws-sdk/client-eventbridge client can be pointed at it.
import { randomUUID } from 'node:crypto';
import { PutEventsRefusal, PutEventsServer, type EntryResult, type PutEventsEntry } from '../../infra/local/bus/put-events.js';

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

export class EventBridgeEndpoint {
  readonly events: RecordedEvent[] = [];
  /** Requests seen, and how many entries each carried. */
  readonly requests: Array<{ entries: number; fault: Fault['kind'] }> = [];
  private plan: FaultPlan = () => ({ kind: 'none' });
  private server!: PutEventsServer;

  private constructor() {}

  static async start(): Promise<EventBridgeEndpoint> {
    const endpoint = new EventBridgeEndpoint();
    endpoint.server = await PutEventsServer.start((entries) => endpoint.handle(entries));
    return endpoint;
  }

  get url(): string {
    return this.server.url;
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
    return this.server.close();
  }

  private handle(entries: PutEventsEntry[]): EntryResult[] | Promise<EntryResult[]> {
    const number = this.requests.length + 1;
    const fault = this.plan(number, entries.length);
    this.requests.push({ entries: entries.length, fault: fault.kind });
    if (fault.kind === 'server-error') throw new PutEventsRefusal('InternalException', 'injected server error', fault.status ?? 500);
    if (fault.kind === 'throttle') throw new PutEventsRefusal('ThrottlingException', 'Rate exceeded');
    if (fault.kind === 'refuse') throw new PutEventsRefusal(fault.type, `injected ${fault.type}`, fault.status ?? 400);
    if (fault.kind === 'hang') return new Promise(() => {});
    const failing = new Set(fault.kind === 'partial' ? fault.failIndexes : []);
    return entries.map((entry, index) => {
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
  }
}
