// Fixtures for tests of the event forwarder: an instance in this process or in a child process,
// configured for the test cluster and a local EventBridge endpoint.
import { spawn, type ChildProcess } from 'node:child_process';
import { readForwarderConfig } from '../../functions/forwarder/config.js';
import { startForwarder, type ForwarderDependencies, type ForwarderHandle } from '../../functions/forwarder/forwarder.js';
import { metricValue } from '../../functions/forwarder/metrics.js';
import { afterAll, beforeAll } from 'vitest';
import { EventBridgeEndpoint } from './eventbridge-endpoint.js';
import { createNamespace, deleteNamespace, eventually, installCrd, kubeconfigPath } from './kube.js';

export const TEST_BUS = 'test-bus';

/** The environment of a forwarder for one test: its namespace, the endpoint, quick timings. */
export function forwarderEnvironment(endpoint: EventBridgeEndpoint, namespace: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    EVENT_BUS_NAME: TEST_BUS,
    AWS_REGION: 'us-east-1',
    // The SDK signs requests; the local endpoint ignores the signature.
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    EVENTBRIDGE_ENDPOINT: endpoint.url,
    KUBECONFIG: kubeconfigPath(),
    CLUSTER_ACCESS: 'kubeconfig',
    WATCH_NAMESPACES: namespace,
    LEADER_ELECTION: 'false',
    HTTP_PORT: '0',
    LOG_LEVEL: 'SILENT',
    RETRY_BASE_MS: '50',
    RETRY_MAX_MS: '1000',
    ...overrides,
  };
}

/** A forwarder in this process. */
export async function startTestForwarder(
  endpoint: EventBridgeEndpoint,
  namespace: string,
  overrides: Record<string, string> = {},
  deps: ForwarderDependencies = {},
): Promise<ForwarderHandle> {
  const env = forwarderEnvironment(endpoint, namespace, overrides);
  process.env.AWS_ACCESS_KEY_ID ??= env.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY ??= env.AWS_SECRET_ACCESS_KEY;
  return startForwarder(readForwarderConfig(env), deps);
}

export function metric(forwarder: ForwarderHandle, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricValue(forwarder.metrics.registry, name, labels);
}

const mainPath = new URL('../../functions/forwarder/main.ts', import.meta.url).pathname;

/**
 * A forwarder as its own process, run from source. Node itself with tsx's loader, not the tsx
 * command, which would be a parent process: a signal must reach the forwarder, not a wrapper.
 */
export function spawnForwarder(env: Record<string, string>): ChildProcess & { output: string[] } {
  const child = spawn(process.execPath, ['--import', 'tsx', mainPath], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & {
    output: string[];
  };
  child.output = [];
  child.stdout!.on('data', (chunk: Buffer) => child.output.push(chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => child.output.push(chunk.toString()));
  return child;
}

export interface ForwarderFixture {
  namespace: string;
  endpoint: EventBridgeEndpoint;
  forwarder: ForwarderHandle;
}

/**
 * Registers the hooks of a test file with one forwarder: the CRD, a namespace of its own, a
 * recording endpoint, then `prepare` (objects that exist before it starts), then the forwarder.
 * The returned object is filled in once the hooks have run.
 */
export function useForwarder(prefix: string, overrides: Record<string, string> = {}, prepare?: (namespace: string) => Promise<void>): ForwarderFixture {
  const fixture = {} as ForwarderFixture;
  beforeAll(async () => {
    await installCrd();
    fixture.namespace = await createNamespace(prefix);
    fixture.endpoint = await EventBridgeEndpoint.start();
    await prepare?.(fixture.namespace);
    fixture.forwarder = await startTestForwarder(fixture.endpoint, fixture.namespace, overrides);
    // Every test of the file may then run alone: the watches have listed what `prepare` made.
    await eventually('the forwarder to be ready', () => fixture.forwarder.ready());
  });
  afterAll(async () => {
    await fixture.forwarder?.shutdown();
    await fixture.endpoint?.close();
    if (fixture.namespace) await deleteNamespace(fixture.namespace);
  });
  return fixture;
}
