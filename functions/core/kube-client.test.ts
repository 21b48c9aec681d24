// The client's side of congestion, against a loopback HTTP server that answers as a busy API
// server does: 429 and 503 with Retry-After, or no answer for a while.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError, KubeClient, NoAnswerError, retryAfterMs, withDeadline, type CongestionEvent } from './kube-client.js';

type Answer = (request: IncomingMessage, response: ServerResponse) => void;
let server: Server | undefined;

async function serve(answers: Answer[]): Promise<{ url: string; arrivals: number[] }> {
  const arrivals: number[] = [];
  server = createServer((request, response) => {
    arrivals.push(Date.now());
    const answer = answers[Math.min(arrivals.length, answers.length) - 1]!;
    request.resume();
    request.on('end', () => answer(request, response));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrivals };
}

afterEach(async () => {
  const open = server;
  server = undefined;
  if (!open) return;
  open.closeAllConnections();
  await new Promise((resolve) => open.close(resolve));
});

const status = (code: number, headers: Record<string, string> = {}): Answer => (_request, response) => {
  response.writeHead(code, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ kind: 'Status', code, reason: code === 429 ? 'TooManyRequests' : 'ServiceUnavailable' }));
};
const ok: Answer = (_request, response) => response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
const never: Answer = () => undefined;

function client(url: string, options: { events?: CongestionEvent[]; writeTimeoutMs?: number } = {}): KubeClient {
  return new KubeClient({ server: url }, { timeoutMs: 5_000, writeTimeoutMs: options.writeTimeoutMs, writeConcurrency: { initial: 10, min: 1, max: 20 }, onCongestion: (event) => options.events?.push(event) });
}

describe('a 429 or 503 with Retry-After', () => {
  it('is sent again after the delay the server asks for, and each retry is counted', async () => {
    const { url, arrivals } = await serve([status(429, { 'retry-after': '1' }), status(503, { 'retry-after': '1' }), ok]);
    const events: CongestionEvent[] = [];
    const kube = client(url, { events });

    await expect(kube.request('/api/v1/namespaces/a/configmaps/b', { method: 'PATCH', body: {} })).resolves.toEqual({ ok: true });

    expect(arrivals).toHaveLength(3);
    expect(arrivals[1]! - arrivals[0]!).toBeGreaterThanOrEqual(990);
    expect(arrivals[2]! - arrivals[1]!).toBeGreaterThanOrEqual(990);
    expect(kube.counters.throttledRetries).toBe(2);
    expect(events.map((event) => event.kind === 'throttled' && [event.code, event.retryAfterMs])).toEqual([[429, 1000], [503, 1000]]);
    // Two drops cut the write limit.
    expect(kube.writeLimit!.limit).toBeLessThan(10);
  });

  it('is not sent again when the wait would end after the deadline: the failure is the caller’s to retry', async () => {
    const { url, arrivals } = await serve([status(429, { 'retry-after': '5' })]);
    const kube = client(url);

    const error = await withDeadline(Date.now() + 2_000, () => kube.request('/x', { method: 'POST', body: {} })).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe(429);
    expect(arrivals).toHaveLength(1);
    expect(kube.counters.throttledRetries).toBe(0);
  });

  it('a 503 without Retry-After is an answer, not a retry', async () => {
    const { url, arrivals } = await serve([status(503)]);
    const kube = client(url);
    await expect(kube.request('/x')).rejects.toMatchObject({ code: 503 });
    expect(arrivals).toHaveLength(1);
  });
});

describe('a write with no answer yet', () => {
  it('waits for it past the read timeout, until the write timeout', async () => {
    const { url } = await serve([(_request, response) => setTimeout(() => ok(_request, response), 1_500)]);
    const kube = new KubeClient({ server: url }, { timeoutMs: 500, writeTimeoutMs: 5_000 });

    await expect(kube.request('/x', { method: 'PATCH', body: {} })).resolves.toEqual({ ok: true });
    expect(kube.counters.abandonedWrites).toBe(0);
  });

  it('is abandoned at the deadline, counted and reported, and the read timeout still catches a silent read', async () => {
    const { url } = await serve([never]);
    const events: CongestionEvent[] = [];
    const kube = new KubeClient({ server: url }, { timeoutMs: 300, writeTimeoutMs: 60_000, onCongestion: (event) => events.push(event) });

    const started = Date.now();
    await expect(withDeadline(Date.now() + 800, () => kube.request('/x', { method: 'PATCH', body: {} }))).rejects.toBeInstanceOf(NoAnswerError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    expect(kube.counters.abandonedWrites).toBe(1);
    expect(events).toEqual([expect.objectContaining({ kind: 'abandoned', what: 'PATCH /x' })]);

    await expect(kube.request('/y')).rejects.toThrow(/no answer within 300 ms/);
    expect(kube.counters.abandonedWrites).toBe(1);
  });

  it('is not sent at all once the deadline has passed', async () => {
    const { url, arrivals } = await serve([ok]);
    const kube = client(url);
    await expect(withDeadline(Date.now() - 1, () => kube.request('/x', { method: 'PATCH', body: {} }))).rejects.toThrow(/not sent/);
    expect(arrivals).toHaveLength(0);
    expect(kube.counters.abandonedWrites).toBe(0);
  });
});

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });
});
