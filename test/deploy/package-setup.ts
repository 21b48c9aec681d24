// Runs `osls package` once per cluster access mode for the whole deploy project, with no AWS
// credentials in reach, and hands the tests the folders it wrote (template and function zips).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The folders `osls package` wrote, one per cluster access mode. */
    serverlessPackages: Record<PackageVariant, string>;
  }
}

export const REPO = new URL('../..', import.meta.url).pathname;
/** osls as the repository installs it, run with this Node.js. */
export const OSLS = [process.execPath, join(REPO, 'node_modules/osls/bin/serverless.js')] as const;

/** The parameters the tests check for in the template; the rest are serverless.yml's defaults. */
export const PACKAGE_PARAMS = {
  stage: 'ci',
  region: 'eu-west-1',
  clusterName: 'test-cluster',
  clusterEndpoint: 'https://0123456789ABCDEF0123456789ABCDEF.gr7.eu-west-1.eks.amazonaws.com',
  clusterCa: Buffer.from('-----BEGIN CERTIFICATE-----\nnot a real one\n-----END CERTIFICATE-----\n').toString('base64'),
  resyncRate: 'rate(7 minutes)',
} as const;

export const KUBECONFIG_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stimulated-peering/kubeconfig-AbCdEf';

/** The functions' network when the cluster endpoint is private (the `secret` package only). */
export const PRIVATE_NETWORK = { subnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'], securityGroupIds: ['sg-0123456789abcdef0'] };

/**
 * An EKS cluster with a public endpoint, and a cluster reached with a kubeconfig kept in Secrets
 * Manager from inside a VPC (both settings in one package: osls takes 20 s per package).
 */
const VARIANTS = {
  eks: { clusterAccess: 'eks' },
  secret: {
    clusterAccess: 'secret',
    kubeconfigSecretArn: KUBECONFIG_SECRET_ARN,
    subnetIds: PRIVATE_NETWORK.subnetIds.join(','),
    securityGroupIds: PRIVATE_NETWORK.securityGroupIds.join(','),
  },
} as const;
export type PackageVariant = keyof typeof VARIANTS;

/** The environment without anything that could lead to AWS credentials. */
export function credentialFreeEnv(home: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_')));
  return { ...env, HOME: home, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' };
}

async function osls(args: string[], home: string): Promise<void> {
  try {
    await promisify(execFile)(OSLS[0], [OSLS[1], ...args], {
      cwd: REPO,
      env: credentialFreeEnv(home),
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`osls ${args.join(' ')} failed:\n${stdout ?? ''}\n${stderr ?? ''}`, { cause: error });
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const home = await mkdtemp(join(tmpdir(), 'stimulated-peering-home-'));
  const packages = {} as Record<PackageVariant, string>;
  const { stage, region, ...params } = PACKAGE_PARAMS;
  // One after the other: serverless-esbuild builds in the repo's .esbuild/ folder.
  for (const [variant, variantParams] of Object.entries(VARIANTS) as Array<[PackageVariant, Record<string, string>]>) {
    packages[variant] = await mkdtemp(join(tmpdir(), `stimulated-peering-package-${variant}-`));
    const paramArgs = Object.entries({ ...params, ...variantParams }).map(([key, value]) => `--param=${key}=${value}`);
    await osls(['package', '--stage', stage, '--region', region, '--package', packages[variant], ...paramArgs], home);
  }
  project.provide('serverlessPackages', packages);
  return async () => {
    await Promise.all([home, ...Object.values(packages)].map((dir) => rm(dir, { recursive: true, force: true })));
  };
}
