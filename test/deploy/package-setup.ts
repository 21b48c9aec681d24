// Runs `osls package` once for the whole deploy project, with no AWS credentials in reach, and
// hands the tests the folder it wrote (CloudFormation template and function zips).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The folder `osls package` wrote. */
    serverlessPackage: string;
  }
}

const REPO = new URL('../..', import.meta.url).pathname;

/** The parameters the tests check for in the template; all but the cluster's are serverless.yml's defaults. */
export const PACKAGE_PARAMS = {
  stage: 'ci',
  region: 'eu-west-1',
  clusterName: 'test-cluster',
  clusterEndpoint: 'https://0123456789ABCDEF0123456789ABCDEF.gr7.eu-west-1.eks.amazonaws.com',
  clusterCa: Buffer.from('-----BEGIN CERTIFICATE-----\nnot a real one\n-----END CERTIFICATE-----\n').toString('base64'),
  resyncRate: 'rate(7 minutes)',
} as const;

/** The environment without anything that could lead to AWS credentials. */
function credentialFreeEnv(home: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_')));
  return { ...env, HOME: home, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const out = await mkdtemp(join(tmpdir(), 'stimulated-peering-package-'));
  const home = await mkdtemp(join(tmpdir(), 'stimulated-peering-home-'));
  const { stage, region, ...params } = PACKAGE_PARAMS;
  const args = ['package', '--stage', stage, '--region', region, '--package', out, ...Object.entries(params).map(([key, value]) => `--param=${key}=${value}`)];
  try {
    await promisify(execFile)(process.execPath, [join(REPO, 'node_modules/osls/bin/serverless.js'), ...args], {
      cwd: REPO,
      env: credentialFreeEnv(home),
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`osls ${args.join(' ')} failed:\n${stdout ?? ''}\n${stderr ?? ''}`, { cause: error });
  }
  project.provide('serverlessPackage', out);
  return async () => {
    await rm(out, { recursive: true, force: true });
    await rm(home, { recursive: true, force: true });
  };
}
