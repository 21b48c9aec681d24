// serverless.yml as written, for what osls does not check: what Serverless Framework v4 requires
// differently (read in v4's source, since v4 itself cannot run here: its npm package downloads the
// framework on first use), and the helper that derives the resync alarms' period.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { serverlessConfig } from './template.js';

const { rateSeconds } = createRequire(import.meta.url)('../../infra/serverless/rate-seconds.cjs') as { rateSeconds(expression: string): number };

/** Plugins that bundle code, which v4's plugin manager refuses unless `build.esbuild` is false. */
const V4_CONFLICTING_BUNDLERS = ['serverless-esbuild', 'serverless-webpack', 'serverless-plugin-typescript', 'serverless-bundle'];

describe('serverless.yml for Serverless Framework v4', () => {
  const config = serverlessConfig();

  it('turns v4’s built-in esbuild off, without which v4 refuses the serverless-esbuild plugin', () => {
    expect(config.plugins.filter((plugin: string) => V4_CONFLICTING_BUNDLERS.includes(plugin))).toEqual(['serverless-esbuild']);

    expect(config.build).toEqual({ esbuild: false });
  });

  it('declares no schedule event, to which v4 would give the function’s own role', () => {
    const events = Object.values(config.functions as Record<string, { events?: object[] }>).flatMap((fn) => fn.events ?? []);

    expect(events.filter((event) => 'schedule' in event)).toEqual([]);
  });

  it('sets only the sqs event properties v4’s schema knows, with the values it allows', () => {
    const sqs = (config.functions.reconcile.events as Array<{ sqs?: Record<string, unknown> }>).map((event) => event.sqs).filter(Boolean);

    expect(sqs).toHaveLength(1);
    expect(Object.keys(sqs[0]!).sort()).toEqual(['arn', 'batchSize', 'functionResponseType', 'maximumBatchingWindow', 'maximumConcurrency']);
    expect(config.params.default.reconcileConcurrency).toBeGreaterThanOrEqual(2);
    expect(config.params.prod.reconcileConcurrency).toBeGreaterThanOrEqual(2);
  });
});

describe('the resync period', () => {
  it.each([
    ['rate(1 minute)', 60],
    ['rate(5 minutes)', 300],
    ['rate(2 hours)', 7200],
  ])('of %s is %i seconds', (expression, seconds) => {
    expect(rateSeconds(expression)).toBe(seconds);
  });

  it('refuses a cron expression, which has no single period to alarm on', () => {
    expect(() => rateSeconds('cron(0 * * * ? *)')).toThrow(/resyncRate must be rate\(N minutes\|hours\|days\)/);
  });

  it('refuses a rate longer than three alarm periods can watch in CloudWatch’s one day', () => {
    expect(() => rateSeconds('rate(9 hours)')).toThrow(/longer than the 8 hours/);
  });
});

describe('the parameters checked when packaging', () => {
  const { paramProblems } = createRequire(import.meta.url)('../../infra/serverless/params.cjs') as { paramProblems(params: Record<string, string>): string[] };
  const eks = { clusterAccess: 'eks', clusterName: 'c', clusterEndpoint: 'https://c', clusterCa: 'Y2E=', kubeconfigSecretArn: '', subnetIds: '', securityGroupIds: '', busName: 'stimulated-peering-prod' };

  it('pass serverless.yml’s defaults with an EKS cluster named, and a bus name of exactly 48 characters', () => {
    expect(paramProblems(eks)).toEqual([]);
    expect(paramProblems({ ...eks, busName: `stimulated-peering-${'s'.repeat(29)}` })).toEqual([]);
  });

  it('refuse security groups without subnets, which would be silently ignored', () => {
    expect(paramProblems({ ...eks, securityGroupIds: 'sg-1' })).toEqual(['securityGroupIds is set without subnetIds: the functions need both to run in a VPC']);
  });

  it('refuse an unknown cluster access mode', () => {
    expect(paramProblems({ ...eks, clusterAccess: 'iam' })).toEqual(['clusterAccess must be eks, secret or (offline only) kubeconfig, not "iam"']);
  });
});
