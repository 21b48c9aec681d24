// The local stand-in for the deployed event path: an EventBridge bus whose rule puts matching
// events on an SQS queue, which a Lambda event source mapping drains into the reconcile function.
// Everything runs in this process except the function, reached through an `invoke`.
import { randomUUID } from 'node:crypto';
import { checkPattern, matchesPattern, type EventPattern } from './event-pattern.js';
import { EventSourceMapping, type EventSourceSettings, type InvocationReport, type Invoke } from './event-source.js';
import { PutEventsServer, type EntryResult, type PutEventsEntry } from './put-events.js';
import { MessageQueue, type QueueSettings } from './queue.js';

export interface LocalBusOptions {
  busName: string;
  region: string;
  account: string;
  /** The rule in front of the queue. */
  pattern: EventPattern;
  queueName: string;
  queue: QueueSettings;
  eventSource: EventSourceSettings;
  invoke: Invoke;
  onInvocation?: (report: InvocationReport) => void;
  /** The address its PutEvents endpoint listens on; loopback by default. */
  host?: string;
  /** Told of each event accepted, as the bus delivers it to its rules. */
  onEvent?: (event: BusEvent) => void;
}

/** An event as EventBridge delivers it to a rule's target. */
export interface BusEvent {
  id: string;
  'detail-type': string;
  source: string;
  time: string;
  detail: unknown;
}

/** What the benchmark and the progress view read. */
export interface BusFigures {
  eventsReceived: number;
  eventsMatched: number;
  invocations: number;
  failedInvocations: number;
  /** Messages handed to the function, over all invocations (redeliveries included). */
  messagesInvoked: number;
  messagesPerInvocation: number;
  maxConcurrentInvocations: number;
  redeliveries: number;
  deadLettered: number;
  queueDepth: number;
  oldestMessageAgeMs: number;
}

export class LocalBus {
  private eventsReceived = 0;
  private eventsMatched = 0;
  private readonly queue: MessageQueue;
  private readonly eventSource: EventSourceMapping;
  private server!: PutEventsServer;

  private constructor(private readonly options: LocalBusOptions) {
    checkPattern(options.pattern);
    this.queue = new MessageQueue(options.queue);
    const identity = { arn: `arn:aws:sqs:${options.region}:${options.account}:${options.queueName}`, region: options.region };
    this.eventSource = new EventSourceMapping(this.queue, identity, options.eventSource, options.invoke, options.onInvocation);
  }

  static async start(options: LocalBusOptions): Promise<LocalBus> {
    const bus = new LocalBus(options);
    bus.server = await PutEventsServer.start((entries) => bus.put(entries), options.host);
    return bus;
  }

  /** The PutEvents endpoint (the forwarder's EVENTBRIDGE_ENDPOINT). */
  get url(): string {
    return this.server.url;
  }

  figures(): BusFigures {
    const { invocations, failedInvocations, messagesInvoked, maxInFlight } = this.eventSource.counters;
    return {
      eventsReceived: this.eventsReceived,
      eventsMatched: this.eventsMatched,
      invocations,
      failedInvocations,
      messagesInvoked,
      messagesPerInvocation: invocations === 0 ? 0 : messagesInvoked / invocations,
      maxConcurrentInvocations: maxInFlight,
      redeliveries: this.queue.counters.redelivered,
      deadLettered: this.queue.counters.deadLettered,
      queueDepth: this.queue.depth,
      oldestMessageAgeMs: this.queue.oldestAgeMs(),
    };
  }

  /** Stops taking events and waits for the invocations in flight. */
  async stop(): Promise<void> {
    await this.server.close();
    await this.eventSource.stop();
  }

  private put(entries: PutEventsEntry[]): EntryResult[] {
    return entries.map((entry) => {
      const refused = this.refusal(entry);
      if (refused) return refused;
      this.eventsReceived++;
      const event = {
        version: '0',
        id: randomUUID(),
        'detail-type': entry.DetailType,
        source: entry.Source,
        account: this.options.account,
        time: entry.Time ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        region: this.options.region,
        resources: entry.Resources ?? [],
        detail: JSON.parse(entry.Detail!) as unknown,
      };
      this.options.onEvent?.(event as BusEvent);
      if (matchesPattern(this.options.pattern, event)) {
        this.eventsMatched++;
        // EventBridge's SQS target: the message body is the whole event.
        this.queue.send(JSON.stringify(event));
      }
      return { EventId: event.id };
    });
  }

  /** The error EventBridge answers an entry with, if it would refuse it. */
  private refusal(entry: PutEventsEntry): EntryResult | undefined {
    const bus = entry.EventBusName ?? 'default';
    if (bus !== this.options.busName && !bus.endsWith(`:event-bus/${this.options.busName}`)) {
      return { ErrorCode: 'NotAuthorizedForBusException', ErrorMessage: `no event bus ${bus} here; this one is ${this.options.busName}` };
    }
    if (!entry.Source || !entry.DetailType) return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Source and DetailType are required' };
    if (!isJsonObject(entry.Detail)) return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is not a JSON object' };
    return undefined;
  }
}

function isJsonObject(text: string | undefined): boolean {
  try {
    const value = JSON.parse(text ?? '') as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}
