// Parameters CloudFormation would refuse only halfway through a deploy (then roll the stack back),
// or that osls would refuse with a message that does not say what to set, stop `osls package`
// before anything is built, with a message naming what to set.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialFreeEnv, OSLS, PACKAGE_PARAMS, REPO } from './package-setup.js';

let home: string;
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'stimulated-peering-refusals-'));
});
afterAll(() => rm(home, { recursive: true, force: true }));

const { stage, region, clusterName, clusterEndpoint, clusterCa } = PACKAGE_PARAMS;
const eks = { clusterName, clusterEndpoint, clusterCa };

/** `osls package` with these options; resolves with what it printed, having failed. */
async function refusedPackage(options: { stage?: string; region?: string; params: Record<string, string> }): Promise<string> {
  const args = ['package', '--stage', options.stage ?? stage, ...(options.region ? ['--region', options.region] : []), '--package', join(home, 'never-written')];
  for (const [key, value] of Object.entries(options.params)) args.push(`--param=${key}=${value}`);
  try {
    await promisify(execFile)(OSLS[0], [OSLS[1], ...args], { cwd: REPO, env: credentialFreeEnv(home), maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    return `${stdout ?? ''}${stderr ?? ''}`;
  }
  throw new Error(`osls ${args.join(' ')} succeeded`);
}

// Each case starts osls, which takes seconds, and longer on a machine busy with other tests.
describe('osls package refuses', { timeout: 120_000 }, () => {
  it('a deploy with no region, saying where to set one', async () => {
    const output = await refusedPackage({ params: eks });

    expect(output).toContain('no AWS region is set: export AWS_REGION (or AWS_DEFAULT_REGION), or pass --region');
  });

  it.each(['clusterName', 'clusterEndpoint', 'clusterCa'])('clusterAccess=eks without %s, naming it', async (missing) => {
    // osls refuses an empty --param; left out, it keeps serverless.yml's empty default.
    const output = await refusedPackage({ region, params: Object.fromEntries(Object.entries(eks).filter(([key]) => key !== missing)) });

    expect(output).toContain(`--param="${missing}=..." is required with clusterAccess=eks`);
  });

  it('clusterAccess=secret without the secret’s ARN', async () => {
    const output = await refusedPackage({ region, params: { clusterAccess: 'secret' } });

    expect(output).toContain('--param="kubeconfigSecretArn=..." is required with clusterAccess=secret');
  });

  it('subnets without security groups, which Lambda would refuse', async () => {
    const output = await refusedPackage({ region, params: { ...eks, subnetIds: 'subnet-0123456789abcdef0' } });

    expect(output).toContain('subnetIds is set without securityGroupIds');
  });

  it('a stage whose bus name makes an archive name longer than 48 characters', async () => {
    const output = await refusedPackage({ stage: 'a-very-long-stage-name-of-thirty-chars', region, params: eks });

    expect(output).toMatch(/busName "stimulated-peering-a-very-long-stage-name-of-thirty-chars" \(57 characters\) also names the bus archive, whose name is at most 48/);
  });
});
