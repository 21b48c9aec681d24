// Every role of the stack, rendered for a stage as CloudFormation would create it and evaluated with
// an IAM policy simulator: it allows exactly the calls the code (and Lambda, for its event source
// and destination) makes, on the resources it makes them on, and refuses the calls next to those.
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { FORWARDER_SOURCE, SCHEDULER_SOURCE } from '../../functions/core/event-contract.js';
import { attribute, auditPolicies, evaluate, grantedActions, render, rolePolicies, type Call, type Decision, type PolicyDocument, type RoleExpectation, type Stack } from './iam.js';
import { KUBECONFIG_SECRET_ARN, PACKAGE_PARAMS, type PackageVariant } from './package-setup.js';
import { loadTemplate, type Template } from './template.js';

const IRSA_POLICY = new URL('../../infra/forwarder/iam-policy.json', import.meta.url).pathname;
const stack: Stack = { stage: PACKAGE_PARAMS.stage, region: PACKAGE_PARAMS.region, account: '123456789012' };
const { region, account } = stack;

const ENI = `arn:aws:ec2:${region}:${account}:network-interface/eni-0123456789abcdef0`;
const NETWORK_INTERFACE_ACTIONS = ['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'];
const NETWORK_DESCRIBE_ACTIONS = ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'];
const CLUSTER = `arn:aws:eks:${region}:${account}:cluster/${PACKAGE_PARAMS.clusterName}`;

/** What each role is for in a package: the calls made with it and the near misses. */
function expectations(template: Template, variant: PackageVariant) {
  const arn = (logicalId: string, name = 'Arn') => attribute(template, logicalId, name, stack);
  const logStream = (logGroup: string) => arn(logGroup).replace(/\*$/, 'log-stream:2026/01/01/[$LATEST]0123456789abcdef');
  const bus = arn('EventBus');
  const call = (action: string, resource: string, context?: Call['context']): Call => ({ action, resource, context });
  const writesLogs = (logGroup: string) => ['logs:CreateLogStream', 'logs:PutLogEvents'].map((action) => call(action, logStream(logGroup)));
  const readsSecret = variant === 'secret' ? [call('secretsmanager:GetSecretValue', KUBECONFIG_SECRET_ARN)] : [];
  // In a VPC (the secret package), Lambda manages the functions' network interfaces with their roles.
  const inVpc = variant === 'secret';
  const managesNetwork = inVpc ? [...NETWORK_INTERFACE_ACTIONS.map((action) => call(action, ENI)), ...NETWORK_DESCRIBE_ACTIONS.map((action) => call(action, '*'))] : [];
  const functionNearMisses = [
    call('secretsmanager:GetSecretValue', KUBECONFIG_SECRET_ARN.replace('kubeconfig', 'database')),
    ...(variant === 'eks' ? [call('secretsmanager:GetSecretValue', KUBECONFIG_SECRET_ARN), call('ec2:CreateNetworkInterface', ENI)] : []),
    call('events:PutEvents', bus, { 'events:source': [FORWARDER_SOURCE] }),
    call('iam:PassRole', arn('ReconcileRole')),
    call('iam:PutRolePolicy', arn('ResyncRole')),
    call('eks:CreateAccessEntry', CLUSTER),
    call('eks:UpdateClusterConfig', CLUSTER),
    call('ec2:DeleteSecurityGroup', `arn:aws:ec2:${region}:${account}:security-group/sg-0123456789abcdef0`),
  ];
  const forwarder: RoleExpectation = {
    calls: [call('events:PutEvents', bus, { 'events:source': [FORWARDER_SOURCE] })],
    nearMisses: [
      // The bus name the IRSA policy used to name, whatever the stage.
      call('events:PutEvents', `arn:aws:events:${region}:${account}:event-bus/stimulated-peering`, { 'events:source': [FORWARDER_SOURCE] }),
      call('events:PutEvents', `arn:aws:events:${region}:${account}:event-bus/default`, { 'events:source': [FORWARDER_SOURCE] }),
      call('events:PutEvents', bus, { 'events:source': [SCHEDULER_SOURCE] }),
      call('events:PutEvents', bus, { 'events:source': [FORWARDER_SOURCE, 'aws.ec2'] }),
      call('events:PutEvents', bus),
      call('events:PutRule', arn('ReconcileRule')),
      call('events:DeleteRule', arn('ReconcileRule')),
      call('events:StartReplay', `arn:aws:events:${region}:${account}:replay/any`),
    ],
  };
  return {
    ReconcileRole: {
      calls: [
        ...writesLogs('ReconcileLogGroup'),
        ...['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ChangeMessageVisibility'].map((action) => call(action, arn('ReconcileQueue'))),
        ...readsSecret,
        ...managesNetwork,
      ],
      nearMisses: [
        ...functionNearMisses,
        call('logs:PutLogEvents', logStream('ResyncLogGroup')),
        call('sqs:SendMessage', arn('ReconcileQueue')),
        call('sqs:PurgeQueue', arn('ReconcileQueue')),
        call('sqs:ReceiveMessage', arn('ReconcileDeadLetterQueue')),
        call('sqs:ReceiveMessage', arn('RuleDeadLetterQueue')),
        call('sqs:SendMessage', arn('ResyncFailedInvocationsQueue')),
        call('lambda:InvokeFunction', arn('ResyncLambdaFunction')),
      ],
      anyResource: inVpc ? { actions: [...NETWORK_INTERFACE_ACTIONS, ...NETWORK_DESCRIBE_ACTIONS], why: 'AWSLambdaVPCAccessExecutionRole' } : undefined,
    },
    ResyncRole: {
      calls: [...writesLogs('ResyncLogGroup'), call('sqs:SendMessage', arn('ResyncFailedInvocationsQueue')), ...readsSecret, ...managesNetwork],
      nearMisses: [
        ...functionNearMisses,
        call('logs:PutLogEvents', logStream('ReconcileLogGroup')),
        call('sqs:ReceiveMessage', arn('ResyncFailedInvocationsQueue')),
        call('sqs:ReceiveMessage', arn('ReconcileQueue')),
        call('sqs:SendMessage', arn('ReconcileQueue')),
        call('sqs:SendMessage', arn('RuleDeadLetterQueue')),
        call('lambda:InvokeFunction', arn('ReconcileLambdaFunction')),
      ],
      anyResource: inVpc ? { actions: [...NETWORK_INTERFACE_ACTIONS, ...NETWORK_DESCRIBE_ACTIONS], why: 'AWSLambdaVPCAccessExecutionRole' } : undefined,
    },
    ResyncSchedulerRole: {
      calls: [call('lambda:InvokeFunction', arn('ResyncLambdaFunction')), call('sqs:SendMessage', arn('ResyncScheduleDeadLetterQueue'))],
      nearMisses: [
        call('lambda:InvokeFunction', arn('ReconcileLambdaFunction')),
        call('sqs:SendMessage', arn('ResyncFailedInvocationsQueue')),
        call('sqs:ReceiveMessage', arn('ResyncScheduleDeadLetterQueue')),
        call('lambda:UpdateFunctionCode', arn('ResyncLambdaFunction')),
        call('lambda:UpdateFunctionConfiguration', arn('ResyncLambdaFunction')),
        call('iam:PassRole', arn('ResyncRole')),
      ],
    },
    ...(variant === 'eks' ? { ForwarderRole: forwarder } : {}),
    forwarder,
  } satisfies Record<string, RoleExpectation>;
}

const describeCall = ({ action, resource, context }: Call) => `${action} ${resource}${context ? ` ${JSON.stringify(context)}` : ''}`;

describe.each(['eks', 'secret'] as const)('IAM in the %s package', (variant) => {
  let template: Template;
  let expected: ReturnType<typeof expectations>;

  beforeAll(() => {
    template = loadTemplate(inject('serverlessPackages')[variant]);
    expected = expectations(template, variant);
  });

  it('has a role for each function, the schedule and (on EKS) the forwarder, and no other', () => {
    const roles = Object.entries(template.Resources).filter(([, resource]) => resource.Type === 'AWS::IAM::Role').map(([id]) => id);

    expect(roles.sort()).toEqual(Object.keys(expected).filter((id) => id !== 'forwarder').sort());
  });

  it.each(['ReconcileRole', 'ResyncRole', 'ResyncSchedulerRole', 'ForwarderRole'])('lets %s make exactly the calls it is for, and none next to them', async (roleId) => {
    if (!(roleId in expected)) return expect(template.Resources[roleId]).toBeUndefined();
    const role = expected[roleId as keyof typeof expected] as RoleExpectation;
    const policies = rolePolicies(template, roleId, stack);

    const problems = await auditPolicies(policies, role, account);

    expect(problems).toEqual([]);
    console.info(
      `${variant} ${roleId}: allows ${(await grantedActions(policies)).join(', ')}; ` +
        `${role.calls.length} calls allowed, ${role.nearMisses.length} near misses denied (${role.nearMisses.map(describeCall).join('; ')})`,
    );
  });

  it('gives the forwarder outside the stack (IRSA, or any credentials) the same rights, once rendered for the stage as docs/deploying.md does', async () => {
    const text = await readFile(IRSA_POLICY, 'utf8');
    const rendered = JSON.parse(text.replaceAll('EVENT_BUS_ARN', attribute(template, 'EventBus', 'Arn', stack))) as PolicyDocument;

    const problems = await auditPolicies([rendered], expected.forwarder, account);

    expect(problems).toEqual([]);
  });

  describe('trust policies', () => {
    const otherAccount = '999999999999';
    const scheduleGroup = `arn:aws:scheduler:${region}:${account}:schedule-group/default`;
    const podIdentityTags = { 'aws:RequestTag/eks-cluster-name': PACKAGE_PARAMS.clusterName, 'aws:RequestTag/kubernetes-namespace': 'kindcustomhttp-forwarder', 'aws:RequestTag/kubernetes-service-account': 'kindcustomhttp-forwarder' };
    const assume = (roleId: string, principal: string, context: Record<string, string>, action = 'sts:AssumeRole'): Promise<Decision> => {
      const trust = render(template, template.Resources[roleId]!.Properties.AssumeRolePolicyDocument, stack) as PolicyDocument;
      return evaluate({ action, resource: attribute(template, roleId, 'Arn', stack), principal, context }, { resource: trust }, account);
    };

    it.each(['ReconcileRole', 'ResyncRole'])('lets Lambda assume %s for this account’s functions only (aws:SourceAccount)', async (roleId) => {
      const decisions = await Promise.all([
        assume(roleId, 'lambda.amazonaws.com', { 'aws:SourceAccount': account }),
        assume(roleId, 'lambda.amazonaws.com', { 'aws:SourceAccount': otherAccount }),
        assume(roleId, 'lambda.amazonaws.com', {}),
        assume(roleId, 'scheduler.amazonaws.com', { 'aws:SourceAccount': account }),
      ]);

      expect(decisions).toEqual(['Allowed', 'ImplicitlyDenied', 'ImplicitlyDenied', 'ImplicitlyDenied']);
    });

    it('lets EventBridge Scheduler assume ResyncSchedulerRole for this account’s default schedule group only (aws:SourceAccount, aws:SourceArn)', async () => {
      const decisions = await Promise.all([
        assume('ResyncSchedulerRole', 'scheduler.amazonaws.com', { 'aws:SourceAccount': account, 'aws:SourceArn': scheduleGroup }),
        assume('ResyncSchedulerRole', 'scheduler.amazonaws.com', { 'aws:SourceAccount': otherAccount, 'aws:SourceArn': scheduleGroup.replace(account, otherAccount) }),
        assume('ResyncSchedulerRole', 'scheduler.amazonaws.com', { 'aws:SourceAccount': account, 'aws:SourceArn': `${scheduleGroup.replace(/default$/, 'other')}` }),
        assume('ResyncSchedulerRole', 'lambda.amazonaws.com', { 'aws:SourceAccount': account, 'aws:SourceArn': scheduleGroup }),
      ]);

      expect(decisions).toEqual(['Allowed', 'ImplicitlyDenied', 'ImplicitlyDenied', 'ImplicitlyDenied']);
    });

    it('lets EKS Pod Identity assume ForwarderRole for the forwarder’s ServiceAccount on this account’s cluster only', async () => {
      if (variant !== 'eks') return expect(template.Resources.ForwarderRole).toBeUndefined();
      const right = { 'aws:SourceAccount': account, 'aws:SourceArn': CLUSTER, ...podIdentityTags };

      const decisions = await Promise.all([
        assume('ForwarderRole', 'pods.eks.amazonaws.com', right),
        assume('ForwarderRole', 'pods.eks.amazonaws.com', right, 'sts:TagSession'),
        assume('ForwarderRole', 'pods.eks.amazonaws.com', { ...right, 'aws:SourceAccount': otherAccount, 'aws:SourceArn': CLUSTER.replace(account, otherAccount) }),
        assume('ForwarderRole', 'pods.eks.amazonaws.com', { ...right, 'aws:SourceArn': `${CLUSTER}-other`, 'aws:RequestTag/eks-cluster-name': `${PACKAGE_PARAMS.clusterName}-other` }),
        assume('ForwarderRole', 'pods.eks.amazonaws.com', { ...right, 'aws:RequestTag/kubernetes-service-account': 'default' }),
        assume('ForwarderRole', 'pods.eks.amazonaws.com', { ...right, 'aws:RequestTag/kubernetes-namespace': 'kube-system' }),
      ]);

      expect(decisions).toEqual(['Allowed', 'Allowed', 'ImplicitlyDenied', 'ImplicitlyDenied', 'ImplicitlyDenied', 'ImplicitlyDenied']);
    });
  });

  it.each(['ReconcileQueuePolicy', 'RuleDeadLetterQueuePolicy'])('lets %s take messages from the reconcile rule only', async (policyId) => {
    const properties = template.Resources[policyId]!.Properties;
    const queue = render(template, properties.Queues[0], stack) as string;
    const queueArn = `arn:aws:sqs:${region}:${account}:${queue.split('/').pop()}`;
    const resource = render(template, properties.PolicyDocument, stack) as PolicyDocument;
    const fromEvents = (action: string, sourceArn: string): Call => ({ action, resource: queueArn, principal: 'events.amazonaws.com', context: { 'aws:SourceArn': sourceArn } });
    const rule = attribute(template, 'ReconcileRule', 'Arn', stack);

    const decisions = await Promise.all(
      [fromEvents('sqs:SendMessage', rule), fromEvents('sqs:SendMessage', `${rule}-other`), fromEvents('sqs:SendMessage', rule.replace(':rule/stimulated-peering-', ':rule/default/stimulated-peering-')), fromEvents('sqs:ReceiveMessage', rule), fromEvents('sqs:PurgeQueue', rule)].map((call) =>
        evaluate(call, { resource }, account),
      ),
    );

    expect(decisions).toEqual(['Allowed', 'ImplicitlyDenied', 'ImplicitlyDenied', 'ImplicitlyDenied', 'ImplicitlyDenied']);
  });
});

describe('the IAM audit', () => {
  let template: Template;
  let reconcile: RoleExpectation;
  const audit = (policies: PolicyDocument[]) => auditPolicies(policies, reconcile, account);
  const withStatement = (policies: PolicyDocument[], statement: PolicyDocument['Statement'][number]) => [...policies, { Version: '2012-10-17', Statement: [statement] }];

  beforeAll(() => {
    template = loadTemplate(inject('serverlessPackages').eks);
    reconcile = expectations(template, 'eks').ReconcileRole;
  });

  it('reports a policy that grants an action the code never calls', async () => {
    const policies = withStatement(rolePolicies(template, 'ReconcileRole', stack), { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: attribute(template, 'ReconcileQueue', 'Arn', stack) });

    const problems = await audit(policies);

    expect(problems).toContain('grants sqs:SendMessage, which the code never calls');
    expect(problems.some((problem) => problem.startsWith('allowed but never needed: sqs:SendMessage'))).toBe(true);
  });

  it('reports a wildcard action that covers more than the calls made', async () => {
    const policies = withStatement(rolePolicies(template, 'ReconcileRole', stack), { Effect: 'Allow', Action: 'sqs:*', Resource: attribute(template, 'ReconcileQueue', 'Arn', stack) });

    const problems = await audit(policies);

    expect(problems).toContain('grants sqs:PurgeQueue, which the code never calls');
  });

  it('reports a statement on every resource', async () => {
    const policies = withStatement(rolePolicies(template, 'ReconcileRole', stack), { Effect: 'Allow', Action: 'sqs:ReceiveMessage', Resource: '*' });

    const problems = await audit(policies);

    expect(problems).toContain('grants sqs:ReceiveMessage on every resource');
    expect(problems.some((problem) => problem.includes(`sqs:ReceiveMessage on ${attribute(template, 'ReconcileDeadLetterQueue', 'Arn', stack)}`))).toBe(true);
  });

  it('reports a call the code makes that the policy refuses', async () => {
    const policies = rolePolicies(template, 'ReconcileRole', stack).map((policy) => ({
      ...policy,
      Statement: policy.Statement.map((statement) => ({ ...statement, Action: [statement.Action].flat().filter((action) => action !== 'sqs:ChangeMessageVisibility') })),
    }));

    const problems = await audit(policies);

    expect(problems).toEqual([`needed but ImplicitlyDenied: sqs:ChangeMessageVisibility on ${attribute(template, 'ReconcileQueue', 'Arn', stack)}`]);
  });
});
