// A CloudFormation template checked against AWS's resource specification as the AWS CDK ships it
// (@aws-cdk/aws-service-spec): known resource types, known property names, required properties,
// property types, and the resources and attributes that Ref, Fn::GetAtt and Fn::Sub point at.
import { loadAwsServiceSpecSync } from '@aws-cdk/aws-service-spec';
import type { Property, PropertyType, SpecDatabase, TypeDefinition } from '@aws-cdk/service-spec-types';
import type { Template } from './template.js';

export interface SpecReport {
  problems: string[];
  /** Resources checked. */
  resources: number;
  /** Property values checked, at every depth. */
  properties: number;
}

let database: SpecDatabase | undefined;
const spec = () => (database ??= loadAwsServiceSpecSync());

const PSEUDO_PARAMETERS = new Set(['AWS::AccountId', 'AWS::NotificationARNs', 'AWS::NoValue', 'AWS::Partition', 'AWS::Region', 'AWS::StackId', 'AWS::StackName', 'AWS::URLSuffix']);
/** Intrinsics whose value is a list; every other one yields a scalar. */
const LIST_INTRINSICS = new Set(['Fn::Split', 'Fn::GetAZs', 'Fn::Cidr']);

export function checkAgainstSpec(template: Template): SpecReport {
  const report: SpecReport = { problems: [], resources: 0, properties: 0 };
  const checker = new Checker(template, report);
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    report.resources++;
    checker.resource(logicalId, resource.Type, resource.Properties ?? {});
    for (const dependency of [resource.DependsOn ?? []].flat()) {
      if (!template.Resources[dependency]) report.problems.push(`${logicalId}: DependsOn ${dependency}, which the stack does not create`);
    }
  }
  for (const [name, output] of Object.entries(template.Outputs ?? {})) checker.references(`Outputs.${name}`, output);
  return report;
}

class Checker {
  constructor(
    private readonly template: Template,
    private readonly report: SpecReport,
  ) {}

  private problem(path: string, message: string) {
    this.report.problems.push(`${path}: ${message}`);
  }

  resource(logicalId: string, type: string, properties: Record<string, unknown>) {
    const [definition] = spec().lookup('resource', 'cloudFormationType', 'equals', type);
    if (!definition) return this.problem(logicalId, `unknown resource type ${type}`);
    this.object(`${logicalId} (${type})`, definition.properties, properties);
  }

  /** An object against the properties a resource or a property type declares. */
  private object(path: string, declared: Record<string, Property>, value: unknown) {
    if (this.intrinsic(path, value)) return;
    if (!isPlainObject(value)) return this.problem(path, `expected an object, found ${JSON.stringify(value)}`);
    for (const [name, property] of Object.entries(declared)) {
      if (property.required && !(name in value)) this.problem(path, `required property ${name} is missing`);
    }
    for (const [name, child] of Object.entries(value)) {
      const property = declared[name];
      if (!property) {
        this.problem(`${path}.${name}`, `unknown property (known: ${Object.keys(declared).sort().join(', ')})`);
        continue;
      }
      this.report.properties++;
      this.value(`${path}.${name}`, property.type, child);
    }
  }

  private value(path: string, type: PropertyType, value: unknown): void {
    if (type.type === 'union') {
      // The value fits if it fits one member; report against the first when none fits.
      const attempts = type.types.map((member) => this.quietly(() => this.value(path, member, value)));
      if (!attempts.some((problems) => problems.length === 0)) this.report.problems.push(...attempts[0]!);
      return;
    }
    if (this.intrinsic(path, value, type.type === 'array')) return;
    switch (type.type) {
      case 'string':
        if (typeof value !== 'string') return this.problem(path, `expected a string, found ${JSON.stringify(value)}`);
        if (type.allowedValues && !type.allowedValues.includes(value)) this.problem(path, `${value} is not one of ${type.allowedValues.join(', ')}`);
        return;
      case 'integer':
      case 'number':
        // CloudFormation takes numbers written as strings too.
        if (!(typeof value === 'number' || (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)))) return this.problem(path, `expected a number, found ${JSON.stringify(value)}`);
        if (type.type === 'integer' && !Number.isInteger(Number(value))) this.problem(path, `expected an integer, found ${JSON.stringify(value)}`);
        return;
      case 'boolean':
        if (!(typeof value === 'boolean' || value === 'true' || value === 'false')) this.problem(path, `expected a boolean, found ${JSON.stringify(value)}`);
        return;
      case 'json':
        if (!isPlainObject(value) && !Array.isArray(value) && typeof value !== 'string') this.problem(path, `expected JSON, found ${JSON.stringify(value)}`);
        if (isPlainObject(value) || Array.isArray(value)) this.references(path, value);
        return;
      case 'date-time':
        if (typeof value !== 'string') this.problem(path, `expected a date-time string, found ${JSON.stringify(value)}`);
        return;
      case 'null':
        return;
      case 'tag':
        return this.object(path, { Key: { type: { type: 'string' }, required: true }, Value: { type: { type: 'string' }, required: true } }, value);
      case 'array':
        if (!Array.isArray(value)) return this.problem(path, `expected a list, found ${JSON.stringify(value)}`);
        value.forEach((item, index) => {
          this.report.properties++;
          this.value(`${path}[${index}]`, type.element, item);
        });
        return;
      case 'map':
        if (!isPlainObject(value)) return this.problem(path, `expected a map, found ${JSON.stringify(value)}`);
        for (const [key, item] of Object.entries(value)) this.value(`${path}.${key}`, type.element, item);
        return;
      case 'ref': {
        const definition = spec().get('typeDefinition', type.reference) as TypeDefinition;
        return this.object(`${path} (${definition.name})`, definition.properties, value);
      }
    }
  }

  /** The problems `check` finds, without recording them. */
  private quietly(check: () => void): string[] {
    const before = this.report.problems.length;
    const counted = this.report.properties;
    check();
    this.report.properties = counted;
    return this.report.problems.splice(before);
  }

  /**
   * When `value` is an intrinsic function, checks what it points at and whether it yields the
   * right shape (a list or a scalar), and returns true; returns false for any other value.
   */
  private intrinsic(path: string, value: unknown, wantList = false): boolean {
    if (!isPlainObject(value)) return false;
    const keys = Object.keys(value);
    if (keys.length !== 1 || !(keys[0] === 'Ref' || keys[0]!.startsWith('Fn::'))) return false;
    const name = keys[0]!;
    this.references(path, value);
    if (LIST_INTRINSICS.has(name) !== wantList) this.problem(path, `${name} yields ${wantList ? 'a single value' : 'a list'} where ${wantList ? 'a list' : 'a single value'} is expected`);
    return true;
  }

  /** Every Ref, Fn::GetAtt and Fn::Sub under `value` names something the stack has. */
  references(path: string, value: unknown): void {
    if (Array.isArray(value)) return value.forEach((item) => this.references(path, item));
    if (!isPlainObject(value)) return;
    for (const [key, child] of Object.entries(value)) {
      if (key === 'Ref') this.ref(path, child as string);
      else if (key === 'Fn::GetAtt') {
        const [logicalId, attribute] = typeof child === 'string' ? (child.split(/\.(.*)/s) as [string, string]) : (child as [string, string]);
        this.getAtt(path, logicalId, attribute);
      } else if (key === 'Fn::Sub') {
        const [text, variables = {}] = typeof child === 'string' ? [child, {}] : (child as [string, Record<string, unknown>]);
        for (const [, name] of text.matchAll(/\$\{(?!!)([^}]+)\}/g)) {
          if (name! in variables) continue;
          const [logicalId, attribute] = name!.split(/\.(.*)/s) as [string, string | undefined];
          if (attribute === undefined) this.ref(path, logicalId);
          else this.getAtt(path, logicalId, attribute);
        }
        this.references(path, variables);
      } else this.references(path, child);
    }
  }

  private ref(path: string, name: string) {
    if (!PSEUDO_PARAMETERS.has(name) && !this.template.Resources[name]) this.problem(path, `Ref ${name}: no such resource or pseudo parameter`);
  }

  private getAtt(path: string, logicalId: string, attribute: string) {
    const target = this.template.Resources[logicalId];
    if (!target) return this.problem(path, `Fn::GetAtt ${logicalId}.${attribute}: no such resource`);
    const [definition] = spec().lookup('resource', 'cloudFormationType', 'equals', target.Type);
    if (definition && !(attribute in definition.attributes)) {
      this.problem(path, `Fn::GetAtt ${logicalId}.${attribute}: a ${target.Type} has no attribute ${attribute} (it has ${Object.keys(definition.attributes).join(', ')})`);
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
