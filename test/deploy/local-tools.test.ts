// serverless.yml still serves local development: `osls offline` starts and answers the Lambda
// invoke API, and `osls invoke local` runs a bundled function. Free ports, as the local stack
// takes, so neither disturbs the other.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/processes.js';
import { credentialFreeEnv, OSLS, REPO } from './package-setup.js';

/** An empty SQS batch, the reconcile function's input: nothing to do, and no cluster needed. */
const EMPTY_BATCH = { Records: [] };

let home: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'stimulated-peering-home-'));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('osls offline --stage local', () => {
  let offline: ChildProcess;
  let lambdaPort: number;
  let output = '';

  beforeAll(async () => {
    lambdaPort = await freePort();
    const httpPort = await freePort();
    offline = spawn(OSLS[0], [OSLS[1], 'offline', 'start', '--stage', 'local', '--httpPort', String(httpPort), '--lambdaPort', String(lambdaPort)], {
      cwd: REPO,
      env: credentialFreeEnv(home),
      detached: true,
    });
    offline.stdout!.on('data', (chunk) => (output += chunk));
    offline.stderr!.on('data', (chunk) => (output += chunk));
    const deadline = Date.now() + 120_000;
    while (!/Offline \[http for lambda\] listening/.test(output)) {
      if (offline.exitCode !== null || Date.now() > deadline) throw new Error(`osls offline did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }, 150_000);
  afterAll(() => {
    if (offline?.pid && offline.exitCode === null) process.kill(-offline.pid, 'SIGTERM');
  });

  it('serves the Lambda invoke API on 127.0.0.1 and runs the reconcile bundle', async () => {
    const response = await fetch(`http://127.0.0.1:${lambdaPort}/2015-03-31/functions/stimulated-peering-local-reconcile/invocations`, {
      method: 'POST',
      body: JSON.stringify(EMPTY_BATCH),
    });

    expect(response.status).toBe(200);
    expect(response.headers.get('x-amz-function-error'), await response.text()).toBeNull();
  });
});

describe('osls invoke local --stage local', () => {
  it('runs the bundled reconcile function with an event', async () => {
    const run = promisify(execFile)(OSLS[0], [OSLS[1], 'invoke', 'local', '--stage', 'local', '-f', 'reconcile', '-d', JSON.stringify(EMPTY_BATCH)], {
      cwd: REPO,
      env: credentialFreeEnv(home),
    });

    await expect(run).resolves.toBeDefined();
  }, 120_000);
});
