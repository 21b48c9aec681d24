// The emulated path through its real edges: the AWS SDK's EventBridge client puts events, and the
// event source invokes a stub of the osls offline Lambda Invoke API over HTTP.
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { reconcileRulePattern } from '../../../functions/core/event-contract.js';
import { invokeFunction } from '../lambda.js';
import { LocalBus } from './bus.js';

const functionName = 'stimulated-peering-local-reconcile';

/** A stand-in for osls offline's Invoke API: records each event, answers what `answer` returns (an Error: a function error). */
async function stubLambda(answer: (event: SQSEvent) => unknown = () => null) {
  const invocations: Array<{ path: string; event: SQSEvent }> = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const event = JSON.parse(Buffer.concat(chunks).toString()) as SQSEvent;
      invocations.push({ path: request.url!, event });
      const result = answer(event);
      if (result instanceof Error) response.writeHead(200, { 'x-amz-function-error': 'Unhandled' }).end(JSON.stringify({ errorMessage: result.message }));
      else response.writeHead(200).end(JSON.stringify(result));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, invocations, close: () => new Promise((r) => server.close(r)) };
}

let cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function startBus(lambda: Awaited<ReturnType<typeof stubLambda>>, visibilityTimeoutMs = 60_000) {
  const bus = await LocalBus.start({
    busName: 'local-bus',
    region: 'us-east-1',
    account: '000000000000',
    pattern: reconcileRulePattern,
    queueName: 'reconcile',
    queue: { visibilityTimeoutMs, maxReceiveCount: 3 },
    eventSource: { batchSize: 10, maximumBatchingWindowMs: 0, maximumConcurrency: 2 },
    invoke: (event) => invokeFunction(lambda.url, functionName, event, 5_000),
  });
  cleanups.push(() => bus.stop(), lambda.close);
  const client = new EventBridgeClient({ endpoint: bus.url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  cleanups.push(async () => client.destroy());
  return { bus, client };
}

const changed = (name: string, busName = 'local-bus'): PutEventsRequestEntry => ({
  EventBusName: busName,
  Source: 'stimulated-peering.forwarder',
  DetailType: 'KindCustomHttp Changed',
  Detail: JSON.stringify({ namespace: 'ns', name }),
});

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('LocalBus', () => {
  it('delivers the events its rule matches to the function as SQS records whose bodies are the EventBridge events', async () => {
    const lambda = await stubLambda();
    const { bus, client } = await startBus(lambda);

    const answer = await client.send(
      new PutEventsCommand({ Entries: [changed('a'), { ...changed('b'), Source: 'someone.else' }, changed('c')] }),
    );
    await until(() => bus.figures().queueDepth === 0 && lambda.invocations.length > 0);

    expect(answer.FailedEntryCount).toBe(0);
    expect(lambda.invocations.map((i) => i.path)).toEqual([`/2015-03-31/functions/${functionName}/invocations`]);
    const events = lambda.invocations[0]!.event.Records.map((record) => JSON.parse(record.body) as Record<string, unknown>);
    expect(events.map((e) => (e.detail as { name: string }).name)).toEqual(['a', 'c']);
    expect(events[0]).toMatchObject({ version: '0', source: 'stimulated-peering.forwarder', 'detail-type': 'KindCustomHttp Changed', account: '000000000000', region: 'us-east-1', resources: [] });
    expect(answer.Entries!.map((e) => e.EventId)).toContain(events[0]!.id);
    expect(bus.figures()).toMatchObject({ eventsReceived: 3, eventsMatched: 2, invocations: 1, messagesPerInvocation: 2 });
  });

  it('refuses entries for another bus or with a detail that is not a JSON object, and accepts the rest of the request', async () => {
    const { client } = await startBus(await stubLambda());

    const answer = await client.send(new PutEventsCommand({ Entries: [changed('a', 'other-bus'), { ...changed('b'), Detail: '[1]' }, changed('c')] }));

    expect(answer.FailedEntryCount).toBe(2);
    expect(answer.Entries!.map((e) => e.ErrorCode)).toEqual(['NotAuthorizedForBusException', 'MalformedDetail', undefined]);
  });

  it('gives a message the function reports as failed to it again after the visibility timeout', async () => {
    let calls = 0;
    const lambda = await stubLambda((event): SQSBatchResponse => ({ batchItemFailures: ++calls === 1 ? [{ itemIdentifier: event.Records[0]!.messageId }] : [] }));
    const { bus, client } = await startBus(lambda, 200);

    await client.send(new PutEventsCommand({ Entries: [changed('a')] }));
    await until(() => lambda.invocations.length === 2 && bus.figures().queueDepth === 0);

    expect(lambda.invocations[1]!.event.Records[0]!.attributes.ApproximateReceiveCount).toBe('2');
    expect(bus.figures()).toMatchObject({ redeliveries: 1, deadLettered: 0 });
  });

  it('counts an invocation that ends in a function error as failed, leaving its messages queued', async () => {
    const lambda = await stubLambda(() => new Error('boom'));
    const { bus, client } = await startBus(lambda);

    await client.send(new PutEventsCommand({ Entries: [changed('a')] }));
    await until(() => bus.figures().failedInvocations === 1);

    expect(bus.figures()).toMatchObject({ invocations: 1, queueDepth: 1 });
  });
});
