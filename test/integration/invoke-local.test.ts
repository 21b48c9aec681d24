// `osls invoke local` with a recorded event converges a CR on the cluster in KUBECONFIG (the functions' own identity), as the
// README shows: the function bundled as it is deployed, run by the Serverless tooling.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespace, deleteNamespace, installCrd, reconcilerKubeconfigPath } from '../support/kube.js';
import { createCr, readChildren } from '../support/operator.js';

const run = promisify(execFile);
let namespace: string;

beforeAll(async () => {
  await installCrd();
  namespace = await createNamespace('invoke-local');
});
afterAll(() => deleteNamespace(namespace));

async function invokeLocal(fn: string, eventFile: string, retarget: (event: Record<string, any>) => void) {
  const event = JSON.parse(readFileSync(new URL(`../events/${eventFile}`, import.meta.url), 'utf8'));
  retarget(event);
  const path = join(mkdtempSync(join(tmpdir(), 'event-')), eventFile);
  writeFileSync(path, JSON.stringify(event));
  const { stdout } = await run('npx', ['osls', 'invoke', 'local', '--stage', 'local', '-f', fn, '-p', path], {
    env: { ...process.env, KUBECONFIG: reconcilerKubeconfigPath(), POWERTOOLS_LOG_LEVEL: 'WARN', CI: 'true' },
    timeout: 120_000,
  });
  // The handler's result is the last JSON document osls prints.
  return JSON.parse(stdout.slice(stdout.lastIndexOf('\n{') + 1));
}

describe('osls invoke local', () => {
  it('converges the CR a recorded event names', async () => {
    await createCr(namespace, 'kindcustomhttp-sample');

    const result = await invokeLocal('reconcile', 'cr-created.json', (event) => {
      event.detail.namespace = namespace;
    });

    expect(result).toMatchObject({ outcome: 'converged' });
    const { Deployment: deployment, Service: service, ConfigMap: configMap } = await readChildren(namespace, 'kindcustomhttp-sample');
    expect(deployment?.spec?.replicas).toBe(2);
    expect(service?.spec?.ports?.[0]?.port).toBe(80);
    expect(configMap?.data?.hostports).toBe('localhost,8080\n');
  });

  it('runs the resync with the recorded schedule input', async () => {
    const result = await invokeLocal('resync', 'scheduled-resync.json', (event) => {
      event.detail = { namespaces: [namespace] };
    });

    expect(result).toMatchObject({ checked: 1, failed: [], notReached: 0 });
  });
});
