import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLocalStackSettings } from './settings.js';

function serverlessYml(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'settings-')), 'serverless.yml');
  writeFileSync(path, text);
  return path;
}

const base = `
params:
  default:
    reconcileConcurrency: 10
  local:
    clusterAccess: kubeconfig
  prod:
    reconcileConcurrency: 20
functions:
  reconcile: { timeout: 30 }
  resync: { timeout: 300 }
custom:
  reconcileQueue:
    batchSize: 10
    maximumBatchingWindow: 2
    visibilityTimeout: 180
    maxReceiveCount: 25
`;

describe('readLocalStackSettings', () => {
  it("reads the queue's numbers, the stage's concurrency (else the default's) and the functions' timeouts, in milliseconds", () => {
    const path = serverlessYml(base);

    const local = readLocalStackSettings('local', path);
    const prod = readLocalStackSettings('prod', path);

    expect(local).toEqual({
      queue: { visibilityTimeoutMs: 180_000, maxReceiveCount: 25 },
      eventSource: { batchSize: 10, maximumBatchingWindowMs: 2_000, maximumConcurrency: 10 },
      functionTimeoutMs: { reconcile: 30_000, resync: 300_000 },
    });
    expect(prod.eventSource.maximumConcurrency).toBe(20);
  });

  it('names what serverless.yml lacks', () => {
    const path = serverlessYml(base.replace('    maxReceiveCount: 25\n', ''));

    expect(() => readLocalStackSettings('local', path)).toThrow(/maxReceiveCount/);
  });

  it("reads this repository's serverless.yml", () => {
    expect(readLocalStackSettings('local').eventSource.batchSize).toBeGreaterThan(0);
  });
});
