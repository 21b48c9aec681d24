// What `osls package` makes of serverless.yml, checked without AWS: the stack's resources, the
// wiring between them, least privilege, and the function bundles themselves.
import { loadAllYaml } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readFunctionEnvironment } from '../../functions/core/environment.js';
import { DetailType, FORWARDER_SOURCE, reconcileRulePattern, resyncEventSchema, SCHEDULER_SOURCE } from '../../functions/core/event-contract.js';
import { KUBECONFIG_SECRET_ARN, PACKAGE_PARAMS } from './package-setup.js';
import { actions, getAtt, loadTemplate, policyStatements, ref, resource, resourcesOfType, type Template } from './template.js';
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
        KUBE_API_QPS: 20,
        KUBE_API_BURST: 40,
      });
      expect(variables).not.toHaveProperty('KUBECONFIG_SECRET_ID');
    });

    it.each(functionNames)('lets %s read no secret when it reaches EKS with its role', (name) => {
      const statements = allowed(`${FUNCTIONS[name].role}/`).flatMap(({ statement }) => actions(statement));

      expect(statements.filter((action) => action.startsWith('secretsmanager:'))).toEqual([]);
    });

    it('caps how many reconciles and resyncs can run at once', () => {
      expect(lambda('reconcile').ReservedConcurrentExecutions).toBe(10);
      expect(lambda('resync').ReservedConcurrentExecutions).toBe(1);
    });

    it.each(functionNames)('sends %s invocations that fail after Lambda retried them to a queue its role may write to', (name) => {
      const [, config] = resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig').find(([, c]) => c.Properties.FunctionName.Ref === FUNCTIONS[name].logicalId)!;

      const queue = queueBehind(config.Properties.DestinationConfig.OnFailure.Destination);

      expect(config.Properties.MaximumRetryAttempts).toBeGreaterThan(0);
      expect(allowed(`${FUNCTIONS[name].role}/`).map(({ statement }) => statement)).toContainEqual(
        expect.objectContaining({ Action: 'sqs:SendMessage', Resource: getAtt(queue, 'Arn') }),
      );
    });
  });

  describe('the event bus', () => {
    it('is created by the stack, named for the stage', () => {
      const buses = resourcesOfType(template, 'AWS::Events::EventBus');

      expect(buses).toHaveLength(1);
      expect(buses[0]![1].Properties.Name).toBe(`stimulated-peering-${PACKAGE_PARAMS.stage}`);
    });

    it('routes exactly the contract’s reconcile events to the reconcile function', () => {
      const [busId] = resourcesOfType(template, 'AWS::Events::EventBus')[0]!;
      const rules = resourcesOfType(template, 'AWS::Events::Rule');

      expect(rules).toHaveLength(1);
      const rule = rules[0]![1].Properties;
      expect(rule.EventBusName).toEqual(getAtt(busId, 'Name'));
      expect(rule.EventPattern).toEqual(reconcileRulePattern);
      expect(rule.Targets).toHaveLength(1);
      expect(rule.Targets[0].Arn).toEqual(getAtt(FUNCTIONS.reconcile.logicalId, 'Arn'));
      expect(resourcesOfType(template, 'AWS::Lambda::Permission').map(([, p]) => p.Properties)).toContainEqual(
        expect.objectContaining({ FunctionName: getAtt(FUNCTIONS.reconcile.logicalId, 'Arn'), Principal: 'events.amazonaws.com' }),
      );
    });

    it('retries delivery to the function and dead-letters what it cannot deliver', () => {
      const target = resourcesOfType(template, 'AWS::Events::Rule')[0]![1].Properties.Targets[0];

      const queue = queueBehind(target.DeadLetterConfig.Arn);

      expect(target.RetryPolicy.MaximumRetryAttempts).toBeGreaterThan(0);
      expect(target.RetryPolicy.MaximumEventAgeInSeconds).toBeGreaterThanOrEqual(60);
      const queuePolicy = resourcesOfType(template, 'AWS::SQS::QueuePolicy').find(([, p]) => p.Properties.Queues[0].Ref === queue)!;
      expect(queuePolicy[1].Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sqs:SendMessage' }),
      );
    });
  });

  describe('the schedule', () => {
    it('invokes resync at the configured rate with the contract’s ResyncRequested event', () => {
      const schedules = resourcesOfType(template, 'AWS::Scheduler::Schedule');

      expect(schedules).toHaveLength(1);
      const schedule = schedules[0]![1].Properties;
      expect(schedule.ScheduleExpression).toBe(PACKAGE_PARAMS.resyncRate);
      expect(schedule.Target.Arn).toEqual(getAtt(FUNCTIONS.resync.logicalId, 'Arn'));
      const input = resyncEventSchema.parse(JSON.parse(schedule.Target.Input));
      expect(input.source).toBe(SCHEDULER_SOURCE);
      expect(input['detail-type']).toBe(DetailType.ResyncRequested);
    });

    it('uses a role that may invoke the resync function and nothing else', () => {
      const roleId = resourcesOfType(template, 'AWS::Scheduler::Schedule')[0]![1].Properties.Target.RoleArn['Fn::GetAtt'][0];

      expect(allowed(`${roleId}/`).map(({ statement }) => statement)).toEqual([
        expect.objectContaining({ Action: 'lambda:InvokeFunction', Resource: getAtt(FUNCTIONS.resync.logicalId, 'Arn') }),
      ]);
    });
  });

  describe('the alarms', () => {
    const alarms = () => resourcesOfType(template, 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);

    it('fire on any message in either dead-letter queue', () => {
      const queues = resourcesOfType(template, 'AWS::SQS::Queue').map(([id]) => id);

      expect(queues).toHaveLength(2);
      for (const queue of queues) {
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

    it.each(functionNames)('fire on any error of %s', (name) => {
      expect(alarms()).toContainEqual(
        expect.objectContaining({
          Namespace: 'AWS/Lambda',
          MetricName: 'Errors',
          Statistic: 'Sum',
          Dimensions: [{ Name: 'FunctionName', Value: ref(FUNCTIONS[name].logicalId) }],
          Threshold: 1,
        }),
      );
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

    it('lets the forwarder put its own events on the bus and nothing else', () => {
      expect(allowed('ForwarderRole/').map(({ statement }) => statement)).toEqual([
        { Effect: 'Allow', Action: 'events:PutEvents', Resource: getAtt('EventBus', 'Arn'), Condition: { StringEquals: { 'events:source': FORWARDER_SOURCE } } },
      ]);
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

    it.each(functionNames)('lets %s read that one secret', (name) => {
      const statements = allowed(`${FUNCTIONS[name].role}/`, secretTemplate).map(({ statement }) => statement);

      expect(statements).toContainEqual({ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: KUBECONFIG_SECRET_ARN });
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
    async function invokeBundle(name: FunctionName, event: unknown): Promise<{ result?: unknown; error?: string }> {
      const entry = bundles[name].find((e) => e.name === `functions/${name}/handler.mjs`)!;
      const file = join(extracted, `${name}.mjs`);
      await writeFile(file, entry.read());
      const script = `import(${JSON.stringify(file)}).then((m) => m.handler(${JSON.stringify(event)})).then(
        (result) => console.log('RESULT ' + JSON.stringify({ result })),
        (error) => console.log('RESULT ' + JSON.stringify({ error: error.name + ': ' + error.message })))`;
      const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { env: { PATH: process.env.PATH, POWERTOOLS_DEV: 'false' } });
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      return JSON.parse(line!.slice('RESULT '.length));
    }

    it.each(functionNames)('packs %s as one minified ESM file with its source map, and reports the sizes', (name) => {
      const entries = bundles[name];

      expect(entries.map((e) => e.name).sort()).toEqual([`functions/${name}/handler.mjs`, `functions/${name}/handler.mjs.map`]);
      const handler = entries.find((e) => e.name.endsWith('.mjs'))!;
      const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
      console.info(
        `${name}: handler.mjs ${kib(handler.size)} (${kib(handler.compressedSize)} compressed), ` +
          `source map ${kib(entries.find((e) => e.name.endsWith('.map'))!.size)}`,
      );
      // Minified: lines run to thousands of characters (hand-written code averages well under 100).
      const source = handler.read().toString('utf8');
      expect(source.length / source.split('\n').length).toBeGreaterThan(1000);
    });

    it('runs the reconcile bundle: a malformed event is dropped without touching the cluster', async () => {
      const { result } = await invokeBundle('reconcile', { source: 'somewhere.else' });

      expect(result).toMatchObject({ outcome: 'malformed-event' });
    });

    it('runs the resync bundle: without cluster settings it fails fast naming the missing one', async () => {
      const { error } = await invokeBundle('resync', {});

      expect(error).toMatch(/^ConfigurationError: .*KUBECONFIG/);
    });
  });
});
