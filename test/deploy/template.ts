// Reading the CloudFormation template `osls package` generates.
import { loadYaml } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const SERVERLESS_YML = new URL('../../serverless.yml', import.meta.url).pathname;

/** serverless.yml as written, its variables unresolved. */
export function serverlessConfig(): Record<string, any> {
  return loadYaml(readFileSync(SERVERLESS_YML, 'utf8'));
}

export interface Resource {
  Type: string;
  Condition?: string;
  DependsOn?: string | string[];
  Properties: Record<string, any>;
}

export interface Template {
  Conditions?: Record<string, unknown>;
  Resources: Record<string, Resource>;
  Outputs?: Record<string, { Condition?: string; Value: unknown }>;
}

export interface PolicyStatement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: unknown;
  Principal?: unknown;
  Condition?: unknown;
}

/**
 * The template as CloudFormation would deploy it: conditions evaluated (serverless.yml's compare
 * parameter values known when packaging), resources and outputs whose condition is false dropped,
 * Fn::If taken, Fn::Split of a literal string done.
 */
export function loadTemplate(packageDir: string): Template {
  const raw = JSON.parse(readFileSync(join(packageDir, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
  const conditions = Object.fromEntries(Object.entries(raw.Conditions ?? {}).map(([name, condition]) => [name, evaluate(condition)]));
  const kept = <T extends { Condition?: string }>(entries: Record<string, T>) =>
    Object.fromEntries(Object.entries(entries).filter(([, r]) => r.Condition === undefined || conditions[r.Condition]));
  return withConditions({ ...raw, Resources: kept(raw.Resources), Outputs: kept(raw.Outputs ?? {}) }, conditions) as Template;
}

/** A condition made of Fn::Equals and Fn::Not over literal values. */
function evaluate(condition: unknown): boolean {
  const node = condition as Record<string, unknown[]>;
  if (node['Fn::Equals']) return node['Fn::Equals'][0] === node['Fn::Equals'][1];
  if (node['Fn::Not']) return !evaluate(node['Fn::Not'][0]);
  throw new Error(`cannot evaluate condition ${JSON.stringify(condition)}`);
}

export function resourcesOfType(template: Template, type: string): Array<[string, Resource]> {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

export function resource(template: Template, logicalId: string, type: string): Resource {
  const found = template.Resources[logicalId];
  if (!found) throw new Error(`no resource ${logicalId}`);
  if (found.Type !== type) throw new Error(`${logicalId} is a ${found.Type}, not a ${type}`);
  return found;
}

export const getAtt = (logicalId: string, attribute: string) => ({ 'Fn::GetAtt': [logicalId, attribute] });
export const ref = (logicalId: string) => ({ Ref: logicalId });

/** `value` as CloudFormation would see it with these conditions: Fn::If taken, AWS::NoValue dropped. */
function withConditions(value: unknown, conditions: Record<string, boolean>): unknown {
  const noValue = Symbol('AWS::NoValue');
  const resolve = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(resolve).filter((item) => item !== noValue);
    if (node === null || typeof node !== 'object') return node;
    const object = node as Record<string, unknown>;
    if (object.Ref === 'AWS::NoValue') return noValue;
    if ('Fn::If' in object) {
      const [condition, then, otherwise] = object['Fn::If'] as [string, unknown, unknown];
      if (!(condition in conditions)) throw new Error(`condition ${condition} not given`);
      return resolve(conditions[condition] ? then : otherwise);
    }
    // serverless.yml splits parameters known when packaging.
    const split = object['Fn::Split'] as [string, unknown] | undefined;
    if (split && typeof split[1] === 'string') return split[1].split(split[0]);
    return Object.fromEntries(
      Object.entries(object)
        .map(([key, child]) => [key, resolve(child)] as const)
        .filter(([, child]) => child !== noValue),
    );
  };
  return resolve(value);
}

/** Every statement of every policy in the template, with where it was found. */
export function policyStatements(template: Template): Array<{ where: string; statement: PolicyStatement }> {
  const found: Array<{ where: string; statement: PolicyStatement }> = [];
  for (const [logicalId, { Properties }] of Object.entries(template.Resources)) {
    const documents: Array<[string, { Statement: PolicyStatement[] }]> = [
      ...(Properties?.Policies ?? []).map((policy: any) => [`${logicalId}/${policy.PolicyName}`, policy.PolicyDocument]),
      ...(Properties?.PolicyDocument ? [[logicalId, Properties.PolicyDocument]] : []),
      ...(Properties?.AssumeRolePolicyDocument ? [[`${logicalId} trust`, Properties.AssumeRolePolicyDocument]] : []),
    ];
    for (const [where, document] of documents) {
      for (const statement of document.Statement) found.push({ where, statement });
    }
  }
  return found;
}

export function actions(statement: PolicyStatement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}
