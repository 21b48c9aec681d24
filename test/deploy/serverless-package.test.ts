// What `osls package` makes of serverless.yml, checked without AWS: the stack's resources, the
// wiring between them, least privilege, and the function bundles themselves.
import { loadAllYaml } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readFunctionEnvironment } from '../../functions/core/environment.js';
import { DetailType, FORWARDER_SOURCE, reconcileRulePattern, resyncEventSchema, SCHEDULER_SOURCE } from '../../functions/core/event-contract.js';
import { KUBECONFIG_SECRET_ARN, PACKAGE_PARAMS, PRIVATE_NETWORK } from './package-setup.js';
import { actions, getAtt, loadTemplate, policyStatements, ref, resource, resourcesOfType, serverlessConfig, type Template } from './template.js';
import { zipEntries, type ZipEntry } from './zip.js';

const FUNCTIONS = {
  reconcile: { logicalId: 'ReconcileLambdaFunction', role: 'ReconcileRole' },
  resync: { logicalId: 'ResyncLambdaFunction', role: 'ResyncRole' },
} as const;
type FunctionName = keyof typeof FUNCTIONS;
const functionNames = Object.keys(FUNCTIONS) as FunctionName[];

const RECONCILER_BINDING = new URL('../../infra/reconciler/clusterrolebinding.yaml', import.meta.url).pathname;
const FORWARDER_MANIFESTS = new URL('../../infra/forwarder/', import.meta.url).pathname;

/** The stack for an EKS cluster, which most tests look at. */
let template: Template;
const packageDir = () => inject('serverlessPackages').eks;

beforeAll(() => {
  template = loadTemplate(packageDir());
});

function lambda(name: FunctionName, from = template) {
  return resource(from, FUNCTIONS[name].logicalId, 'AWS::Lambda::Function').Properties;
}

function queueBehind(arn: unknown): string {
  const [logicalId, attribute] = (arn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
  expect(attribute).toBe('Arn');
  resource(template, logicalId, 'AWS::SQS::Queue');
  return logicalId;
}

function allowed(where: string, from = template) {
  return policyStatements(from).filter((found) => found.where.startsWith(where) && found.statement.Effect === 'Allow');
}

describe('osls package', () => {
  describe('the functions', () => {
    it.each(functionNames)('runs %s on Node.js 22 on arm64 from its own handler', (name) => {
      const properties = lambda(name);

      expect(properties.Runtime).toBe('nodejs22.x');
      expect(properties.Architectures).toEqual(['arm64']);
      expect(properties.Handler).toBe(`functions/${name}/handler.handler`);
      expect(properties.Code.S3Key).toMatch(new RegExp(`/${name}\\.zip$`));
    });

    it('gives each function a role of its own', () => {
      const roles = functionNames.map((name) => lambda(name).Role);

      expect(roles).toEqual(functionNames.map((name) => getAtt(FUNCTIONS[name].role, 'Arn')));
      for (const name of functionNames) resource(template, FUNCTIONS[name].role, 'AWS::IAM::Role');
    });

    it.each(functionNames)('configures %s the way functions/core/environment.ts reads it, for EKS', (name) => {
      const variables = lambda(name).Environment.Variables as Record<string, string>;

      const env = readFunctionEnvironment({ ...variables, AWS_REGION: PACKAGE_PARAMS.region });

      expect(env).toMatchObject({
        CLUSTER_ACCESS: 'eks',
        EKS_CLUSTER_NAME: PACKAGE_PARAMS.clusterName,
        EKS_CLUSTER_ENDPOINT: PACKAGE_PARAMS.clusterEndpoint,
        EKS_CLUSTER_CA: PACKAGE_PARAMS.clusterCa,
        KUBE_API_QPS: 25,
        KUBE_API_BURST: 50,
      });
      expect(variables).not.toHaveProperty('KUBECONFIG_SECRET_ID');
    });

    it.each(functionNames)('reserves no concurrency for %s, so the account needs no quota beyond its default unreserved 100', (name) => {
      expect(lambda(name)).not.toHaveProperty('ReservedConcurrentExecutions');
    });

    it.each(functionNames)('runs %s outside any VPC when no subnets are given', (name) => {
      expect(lambda(name)).not.toHaveProperty('VpcConfig');
    });

    it('leaves the number of reconciles per process to Lambda, not to an environment setting', () => {
      expect(lambda('reconcile').Environment.Variables).not.toHaveProperty('MAX_CONCURRENT_RECONCILES');
    });

    it('lets a failed resync wait for the next scheduled run, and keeps it in a queue its role may write to', () => {
      const configs = resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig').map(([, c]) => c.Properties);
      expect(configs.map((config) => config.FunctionName)).toEqual([ref(FUNCTIONS.resync.logicalId)]);

      const queue = queueBehind(configs[0]!.DestinationConfig.OnFailure.Destination);

      expect(configs[0]!.MaximumRetryAttempts).toBe(0);
      expect(allowed('ResyncRole/').map(({ statement }) => statement)).toContainEqual(expect.objectContaining({ Action: 'sqs:SendMessage', Resource: getAtt(queue, 'Arn') }));
    });
  });

  describe('the event path', () => {
    const queueNumbers = () => serverlessConfig().custom.reconcileQueue as { batchSize: number; maximumBatchingWindow: number; visibilityTimeout: number; maxReceiveCount: number };

    it('is created by the stack: a bus named for the stage', () => {
      const buses = resourcesOfType(template, 'AWS::Events::EventBus');

      expect(buses).toHaveLength(1);
      expect(buses[0]![1].Properties.Name).toBe(`stimulated-peering-${PACKAGE_PARAMS.stage}`);
    });

    it('archives every forwarder event for 14 days, for replay', () => {
      const archives = resourcesOfType(template, 'AWS::Events::Archive').map(([, archive]) => archive.Properties);

      expect(archives).toEqual([expect.objectContaining({ SourceArn: getAtt('EventBus', 'Arn'), EventPattern: { source: [FORWARDER_SOURCE] }, RetentionDays: 14 })]);
    });

    it('routes exactly the contract’s reconcile events to ReconcileQueue', () => {
      const rules = resourcesOfType(template, 'AWS::Events::Rule');

      expect(rules).toHaveLength(1);
      const rule = rules[0]![1].Properties;
      expect(rule.EventBusName).toEqual(getAtt('EventBus', 'Name'));
      expect(rule.EventPattern).toEqual(reconcileRulePattern);
      expect(rule.Targets).toHaveLength(1);
      expect(rule.Targets[0].Arn).toEqual(getAtt('ReconcileQueue', 'Arn'));
    });

    it('retries delivery to the queue for a day, the most EventBridge allows, and dead-letters what still fails', () => {
      const target = resource(template, 'ReconcileRule', 'AWS::Events::Rule').Properties.Targets[0];

      expect(target.RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 });
      expect(queueBehind(target.DeadLetterConfig.Arn)).toBe('RuleDeadLetterQueue');
    });

    it('starts the rule only once both queues accept its messages', () => {
      expect(resource(template, 'ReconcileRule', 'AWS::Events::Rule').DependsOn).toEqual(['ReconcileQueuePolicy', 'RuleDeadLetterQueuePolicy']);
    });

    it('feeds the reconcile function batches from ReconcileQueue with the numbers serverless.yml keeps in custom.reconcileQueue', () => {
      const mappings = resourcesOfType(template, 'AWS::Lambda::EventSourceMapping').map(([, m]) => m.Properties);
      const { batchSize, maximumBatchingWindow } = queueNumbers();

      expect(mappings).toEqual([
        expect.objectContaining({
          EventSourceArn: getAtt('ReconcileQueue', 'Arn'),
          FunctionName: getAtt(FUNCTIONS.reconcile.logicalId, 'Arn'),
          BatchSize: batchSize,
          MaximumBatchingWindowInSeconds: maximumBatchingWindow,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          ScalingConfig: { MaximumConcurrency: 10 },
        }),
      ]);
    });

    it('retries a failed event for more than an hour before ReconcileDeadLetterQueue, with a visibility timeout of 6 function timeouts', () => {
      const queue = resource(template, 'ReconcileQueue', 'AWS::SQS::Queue').Properties;
      const { visibilityTimeout, maxReceiveCount } = queueNumbers();

      expect(queue.VisibilityTimeout).toBe(visibilityTimeout);
      expect(queue.RedrivePolicy).toEqual({ deadLetterTargetArn: getAtt('ReconcileDeadLetterQueue', 'Arn'), maxReceiveCount });
      expect(visibilityTimeout).toBe(6 * lambda('reconcile').Timeout);
      // Long enough for a write's 60 s wait (KUBE_API_WRITE_TIMEOUT_MS) after its CR waited its turn.
      expect(lambda('reconcile').Timeout).toBe(90);
      expect(maxReceiveCount * visibilityTimeout).toBeGreaterThan(3600);
      expect(queue.MessageRetentionPeriod).toBeGreaterThan(maxReceiveCount * visibilityTimeout);
    });

    it('encrypts every queue at rest', () => {
      const queues = resourcesOfType(template, 'AWS::SQS::Queue');

      expect(queues.map(([id]) => id).sort()).toEqual(['ReconcileDeadLetterQueue', 'ReconcileQueue', 'ResyncFailedInvocationsQueue', 'ResyncScheduleDeadLetterQueue', 'RuleDeadLetterQueue']);
      for (const [, queue] of queues) expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    });
  });

  describe('the schedule', () => {
    const schedule = () => resource(template, 'ResyncSchedule', 'AWS::Scheduler::Schedule').Properties;

    it('invokes resync at the configured rate with the contract’s ResyncRequested event', () => {
      expect(resourcesOfType(template, 'AWS::Scheduler::Schedule')).toHaveLength(1);
      expect(schedule().ScheduleExpression).toBe(PACKAGE_PARAMS.resyncRate);
      expect(schedule().Target.Arn).toEqual(getAtt(FUNCTIONS.resync.logicalId, 'Arn'));
      const input = resyncEventSchema.parse(JSON.parse(schedule().Target.Input));
      expect(input.source).toBe(SCHEDULER_SOURCE);
      expect(input['detail-type']).toBe(DetailType.ResyncRequested);
    });

    it('uses a role of its own, trusted by EventBridge Scheduler alone, that may invoke the resync function and dead-letter what it could not invoke', () => {
      const roleId = schedule().Target.RoleArn['Fn::GetAtt'][0];
      const deadLetters = queueBehind(schedule().Target.DeadLetterConfig.Arn);

      expect(roleId).not.toBe(FUNCTIONS.resync.role);
      expect(allowed(`${roleId} trust`).map(({ statement }) => statement.Principal)).toEqual([{ Service: 'scheduler.amazonaws.com' }]);
      expect(allowed(`${roleId}/`).map(({ statement }) => statement)).toEqual([
        expect.objectContaining({ Action: 'lambda:InvokeFunction', Resource: getAtt(FUNCTIONS.resync.logicalId, 'Arn') }),
        expect.objectContaining({ Action: 'sqs:SendMessage', Resource: getAtt(deadLetters, 'Arn') }),
      ]);
    });

    it('retries an invocation Lambda refused for one resync period, then dead-letters it in a queue of its own', () => {
      const { RetryPolicy, DeadLetterConfig } = schedule().Target;

      expect(RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 7 * 60, MaximumRetryAttempts: 10 });
      expect(queueBehind(DeadLetterConfig.Arn)).toBe('ResyncScheduleDeadLetterQueue');
    });
  });

  describe('the alarms', () => {
    const alarms = () => resourcesOfType(template, 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);
    const resyncMetric = (name: string) => alarms().find((alarm) => alarm.MetricName === name)!;
    /** PACKAGE_PARAMS.resyncRate in seconds. */
    const resyncPeriod = 7 * 60;

    it('fire on any message in a dead-letter queue', () => {
      for (const queue of ['RuleDeadLetterQueue', 'ReconcileDeadLetterQueue', 'ResyncFailedInvocationsQueue', 'ResyncScheduleDeadLetterQueue']) {
        expect(alarms()).toContainEqual(
          expect.objectContaining({
            Namespace: 'AWS/SQS',
            MetricName: 'ApproximateNumberOfMessagesVisible',
            Dimensions: [{ Name: 'QueueName', Value: getAtt(queue, 'QueueName') }],
            Threshold: 1,
            ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          }),
        );
      }
    });

    it('do not fire on a single function error, which is retried', () => {
      expect(alarms().filter((alarm) => alarm.Namespace === 'AWS/Lambda')).toEqual([]);
    });

    it.each(['ResyncNotReached', 'ResyncFailed'])('fire when %s is above zero in two resync periods in a row, on this stage’s metrics', (name) => {
      const { POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE } = lambda('resync').Environment.Variables as Record<string, string>;

      expect(POWERTOOLS_SERVICE_NAME).toBe(`stimulated-peering-${PACKAGE_PARAMS.stage}`);
      expect(resyncMetric(name)).toMatchObject({
        Namespace: POWERTOOLS_METRICS_NAMESPACE,
        Dimensions: [{ Name: 'service', Value: POWERTOOLS_SERVICE_NAME }],
        Statistic: 'Maximum',
        Period: resyncPeriod,
        EvaluationPeriods: 2,
        DatapointsToAlarm: 2,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    });

    it('notify when no resync has reported for three resync periods, and not before the first resync ran', () => {
      const alarm = resyncMetric('ResyncChecked');

      expect(alarm).toMatchObject({
        Namespace: 'StimulatedPeering',
        Statistic: 'SampleCount',
        Period: resyncPeriod,
        EvaluationPeriods: 3,
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
      });
      // Missing data counted as breaching would be ALARM from creation until the first run; left
      // missing, three periods without a run turn the alarm INSUFFICIENT_DATA, which notifies.
      expect(alarm.TreatMissingData).toBe('missing');
      expect(alarm.InsufficientDataActions).toEqual(alarm.AlarmActions);
    });
  });

  describe('EKS access', () => {
    it('puts each function’s role in the Kubernetes group infra/reconciler binds, with no access policy', async () => {
      const [binding] = loadAllYaml(await readFile(RECONCILER_BINDING, 'utf8')) as Array<{ subjects: Array<{ kind: string; name: string }> }>;
      const group = binding!.subjects.find((subject) => subject.kind === 'Group')!.name;

      const entries = resourcesOfType(template, 'AWS::EKS::AccessEntry').map(([, entry]) => entry.Properties);

      expect(entries).toEqual(
        functionNames.map((name) => ({ ClusterName: PACKAGE_PARAMS.clusterName, PrincipalArn: getAtt(FUNCTIONS[name].role, 'Arn'), Type: 'STANDARD', KubernetesGroups: [group] })),
      );
    });
  });

  describe('the forwarder', () => {
    it('gets its role through Pod Identity on the ServiceAccount infra/forwarder creates', async () => {
      const [kustomization] = loadAllYaml(await readFile(join(FORWARDER_MANIFESTS, 'kustomization.yaml'), 'utf8')) as Array<{ namespace: string }>;
      const [serviceAccount] = loadAllYaml(await readFile(join(FORWARDER_MANIFESTS, 'serviceaccount.yaml'), 'utf8')) as Array<{ metadata: { name: string } }>;

      const associations = resourcesOfType(template, 'AWS::EKS::PodIdentityAssociation').map(([, a]) => a.Properties);

      expect(associations).toEqual([
        {
          ClusterName: PACKAGE_PARAMS.clusterName,
          Namespace: kustomization!.namespace,
          ServiceAccount: serviceAccount!.metadata.name,
          RoleArn: getAtt('ForwarderRole', 'Arn'),
        },
      ]);
    });
  });

  describe('IAM', () => {
    it('allows no wildcard action in any policy', () => {
      const statements = policyStatements(template);

      const wildcards = statements.filter(({ statement }) => statement.Effect === 'Allow' && actions(statement).some((action) => action.includes('*')));

      expect(statements.length).toBeGreaterThan(0);
      expect(wildcards).toEqual([]);
    });
  });

  describe('for a cluster reached with a kubeconfig from Secrets Manager', () => {
    let secretTemplate: Template;

    beforeAll(() => {
      secretTemplate = loadTemplate(inject('serverlessPackages').secret);
    });

    it.each(functionNames)('configures %s to read the kubeconfig secret, and nothing of EKS', (name) => {
      const variables = lambda(name, secretTemplate).Environment.Variables as Record<string, string>;

      const env = readFunctionEnvironment(variables);

      expect(env).toMatchObject({ CLUSTER_ACCESS: 'secret', KUBECONFIG_SECRET_ID: KUBECONFIG_SECRET_ARN });
      expect(Object.keys(variables).filter((key) => key.startsWith('EKS_'))).toEqual([]);
    });

    it.each(functionNames)('runs %s in the given subnets with the given security groups', (name) => {
      expect(lambda(name, secretTemplate).VpcConfig).toEqual({ SubnetIds: PRIVATE_NETWORK.subnetIds, SecurityGroupIds: PRIVATE_NETWORK.securityGroupIds });
    });

    it('creates no EKS access entry or Pod Identity association', () => {
      const types = Object.values(secretTemplate.Resources).map((r) => r.Type);

      expect(types).not.toContain('AWS::EKS::AccessEntry');
      expect(types).not.toContain('AWS::EKS::PodIdentityAssociation');
    });
  });

  describe('the bundles', () => {
    const bundles = {} as Record<FunctionName, ZipEntry[]>;
    let extracted: string;

    beforeAll(async () => {
      extracted = await mkdtemp(join(tmpdir(), 'stimulated-peering-bundles-'));
      for (const name of functionNames) bundles[name] = zipEntries(await readFile(join(packageDir(), `${name}.zip`)));
    });
    afterAll(async () => {
      await rm(extracted, { recursive: true, force: true });
    });

    /** Runs the bundled handler in a Node.js process of its own with `event`; returns what it returned or threw. */
    async function invokeBundle(name: FunctionName, event: unknown, env: Record<string, string> = {}): Promise<{ result?: unknown; error?: string }> {
      // The whole package as Lambda unpacks it: the handler imports its chunks by relative path.
      for (const entry of bundles[name]) {
        await mkdir(dirname(join(extracted, entry.name)), { recursive: true });
        await writeFile(join(extracted, entry.name), entry.read());
      }
      const file = join(extracted, `functions/${name}/handler.mjs`);
      const script = `import(${JSON.stringify(file)}).then((m) => m.handler(${JSON.stringify(event)})).then(
        (result) => console.log('RESULT ' + JSON.stringify({ result })),
        (error) => console.log('RESULT ' + JSON.stringify({ error: error.name + ': ' + error.message })))`;
      const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { env: { PATH: process.env.PATH, POWERTOOLS_DEV: 'false', ...env } });
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      return JSON.parse(line!.slice('RESULT '.length));
    }

    it.each(functionNames)('packs %s as minified ESM: its handler, the chunks only some access modes load, their source maps, nothing of the other function', (name) => {
      const entries = bundles[name];
      const code = entries.filter((e) => e.name.endsWith('.mjs'));

      expect(entries.every((e) => e.name.startsWith(`functions/${name}/`))).toBe(true);
      expect(code.map((e) => e.name)).toContain(`functions/${name}/handler.mjs`);
      expect(code.some((e) => /\/kubeconfig-secret-[A-Z0-9]+\.mjs$/.test(e.name))).toBe(true);
      expect(code.some((e) => /\/eks-token-[A-Z0-9]+\.mjs$/.test(e.name))).toBe(true);
      for (const file of code) expect(entries.map((e) => e.name)).toContain(`${file.name}.map`);
      const handler = code.find((e) => e.name.endsWith('/handler.mjs'))!;
      const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
      console.info(`${name}: handler.mjs ${kib(handler.size)} (${kib(handler.compressedSize)} compressed), ${code.length - 1} chunks ${kib(code.reduce((sum, e) => sum + e.size, 0) - handler.size)}`);
      // Minified: lines run to thousands of characters (hand-written code averages well under 100).
      const source = handler.read().toString('utf8');
      expect(source.length / source.split('\n').length).toBeGreaterThan(1000);
    });

    it('runs the reconcile bundle as configured: a batch holding a malformed event is answered without touching the cluster', async () => {
      const variables = lambda('reconcile').Environment.Variables as Record<string, string>;
      const batch = { Records: [{ messageId: 'm-1', receiptHandle: 'r-1', body: JSON.stringify({ source: 'somewhere.else' }), attributes: {}, eventSource: 'aws:sqs' }] };

      const { result } = await invokeBundle('reconcile', batch, { ...variables, AWS_REGION: PACKAGE_PARAMS.region });

      expect(result).toEqual({ batchItemFailures: [] });
    });

    it('runs the resync bundle: without cluster settings it fails fast naming the missing one', async () => {
      const { error } = await invokeBundle('resync', {});

      expect(error).toMatch(/^ConfigurationError: .*KUBECONFIG/);
    });
  });
});
