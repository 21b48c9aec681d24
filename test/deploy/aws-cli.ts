// The `aws ...` commands of a Markdown guide, checked against the AWS CLI's own service models: the
// JSON models the `aws-sdk` package (v2) ships in apis/, which are botocore's, the CLI's. The CLI
// names an operation or an option after the model's member with botocore's xform_name (CamelCase
// to kebab-case); its own additions (customizations) are listed here from the CLI's source.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const APIS = join(dirname(createRequire(import.meta.url).resolve('aws-sdk/package.json')), 'apis');

/** Options every command takes (awscli/data/cli.json), and the pagination options of a paginated operation. */
const GLOBAL_OPTIONS = new Set(['debug', 'endpoint-url', 'no-verify-ssl', 'no-paginate', 'output', 'query', 'profile', 'region', 'version', 'color', 'no-sign-request', 'ca-bundle', 'cli-read-timeout', 'cli-connect-timeout', 'cli-binary-format', 'no-cli-pager', 'cli-auto-prompt', 'no-cli-auto-prompt', 'cli-input-json', 'cli-input-yaml', 'generate-cli-skeleton']);
const PAGINATION_OPTIONS = ['max-items', 'starting-token', 'page-size'];

/** Commands and options the CLI adds to the models (awscli/customizations), with their own options. */
const CUSTOMIZATIONS: Record<string, Record<string, string[]>> = {
  eks: {
    'update-kubeconfig': ['name', 'kubeconfig', 'role-arn', 'dry-run', 'verbose', 'alias', 'user-alias', 'assume-role-arn'],
    'get-token': ['cluster-name', 'role-arn', 'cluster-id'],
  },
  ecr: { 'get-login-password': [] },
};
/** Options the CLI adds to model operations (awscli/customizations/ec2/protocolarg.py, secgroupsimplify.py). */
const ADDED_OPTIONS: Record<string, string[]> = {
  'ec2 authorize-security-group-ingress': ['protocol', 'port', 'cidr', 'source-group', 'group-owner'],
  'ec2 authorize-security-group-egress': ['protocol', 'port', 'cidr', 'source-group', 'group-owner'],
  'ec2 revoke-security-group-ingress': ['protocol', 'port', 'cidr', 'source-group', 'group-owner'],
  'ec2 revoke-security-group-egress': ['protocol', 'port', 'cidr', 'source-group', 'group-owner'],
};

/** botocore.xform_name(name, '-'). */
export function xformName(name: string): string {
  const special = /[A-Z]{2,}s$/.exec(name);
  const base = special ? `${name.slice(0, -special[0].length)}-${special[0].toLowerCase()}` : name;
  return base
    .replace(/(.)([A-Z][a-z]+)/g, '$1-$2')
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase();
}

/** A shape, given inline or by reference (`{ shape: 'S1u' }`) as the minified models do. */
interface Shape {
  shape?: string;
  type?: string;
  members?: Record<string, Shape>;
}
interface Model {
  operations: Record<string, { input?: Shape }>;
  shapes: Record<string, Shape>;
}

const models = new Map<string, { model: Model; waiters: Record<string, { operation: string }>; paginated: Set<string> } | undefined>();

/** The newest model of a CLI service name (`eks`, `events`, `service-quotas`), or undefined. */
function service(name: string) {
  if (!models.has(name)) {
    const versions = readdirSync(APIS)
      .filter((file) => file.startsWith(`${name}-`) && /^\d{4}-\d{2}-\d{2}\.min\.json$/.test(file.slice(name.length + 1)))
      .sort();
    const newest = versions.at(-1)?.replace(/\.min\.json$/, '');
    const read = (suffix: string) => {
      try {
        return JSON.parse(readFileSync(join(APIS, `${newest}.${suffix}.json`), 'utf8'));
      } catch {
        return undefined;
      }
    };
    models.set(
      name,
      newest ? {
        model: read('min') as Model,
        waiters: (read('waiters2')?.waiters ?? {}) as Record<string, { operation: string }>,
        paginated: new Set(Object.keys(read('paginators')?.pagination ?? {})),
      } : undefined,
    );
  }
  return models.get(name);
}

export interface CliCommand {
  /** The command as written, continuation lines joined. */
  text: string;
  service: string;
  operation: string;
  /** `wait`'s waiter, when the operation is `wait`. */
  waiter?: string;
  options: Array<{ name: string; value?: string }>;
}

/** Splits shell text into words, keeping quoted strings and $(...) whole; stops at the end of the command. */
function words(text: string): string[] {
  const found: string[] = [];
  let current = '';
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      // A $(...) inside double quotes ends inside them too.
      if (c === quote) quote = undefined;
      current += c;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === '(' && text[i - 1] === '$') depth++;
    else if (c === ')' && depth > 0) depth--;
    else if (depth === 0 && (c === ')' || c === '|' || c === ';' || c === '&' || c === '>' || c === '\n' || c === '`')) break;
    if (depth === 0 && /\s/.test(c)) {
      if (current) found.push(current);
      current = '';
    } else current += c;
  }
  if (current) found.push(current);
  return found;
}

const unquote = (value: string) => value.replace(/^(['"])(.*)\1$/s, '$2');

/** Every `aws <service> <operation> ...` in the guide's code blocks and inline code. */
export function cliCommands(markdown: string): CliCommand[] {
  const code = [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).concat([...markdown.replace(/```[\s\S]*?```/g, '').matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!));
  const commands: CliCommand[] = [];
  for (const block of code) {
    const joined = block.replace(/\\\n\s*/g, ' ');
    for (const match of joined.matchAll(/(?<![\w.:/-])aws ([a-z0-9-]+) ([a-z0-9-]+)/g)) {
      const [, , ...rest] = words(joined.slice(match.index));
      const [operation, ...args] = rest;
      const waiter = operation === 'wait' ? args.shift() : undefined;
      const options = args.flatMap((word, i) => {
        if (!word.startsWith('--')) return [];
        const [name, inline] = word.slice(2).split(/=(.*)/s, 2);
        const next = args[i + 1];
        return [{ name: name!, value: inline ?? (next && !next.startsWith('--') ? unquote(next) : undefined) }];
      });
      commands.push({ text: joined.slice(match.index, match.index + 200).split('\n')[0]!, service: match[1]!, operation: operation!, waiter, options });
    }
  }
  return commands;
}

/** What in `command` the CLI would not know; empty when it knows it all. */
export function cliProblems(command: CliCommand): string[] {
  const where = `aws ${command.service} ${command.operation}${command.waiter ? ` ${command.waiter}` : ''}`;
  const custom = CUSTOMIZATIONS[command.service]?.[command.operation];
  if (custom) return command.options.filter(({ name }) => !custom.includes(name) && !GLOBAL_OPTIONS.has(name)).map(({ name }) => `${where}: no option --${name}`);
  const api = service(command.service);
  if (!api) return [`${where}: no service ${command.service} in the CLI's models`];
  const operationName = command.waiter
    ? api.waiters[Object.keys(api.waiters).find((waiter) => xformName(waiter) === command.waiter) ?? '']?.operation
    : Object.keys(api.model.operations).find((operation) => xformName(operation) === command.operation);
  if (!operationName) return [`${where}: no such ${command.waiter ? 'waiter' : 'operation'}`];
  const resolve = (ref: Shape | undefined) => (ref?.shape ? api.model.shapes[ref.shape] : ref);
  const input = resolve(api.model.operations[operationName]!.input)?.members ?? {};
  const known = new Map<string, Shape | undefined>();
  for (const [member, ref] of Object.entries(input)) {
    const shape = resolve(ref);
    known.set(xformName(member), shape);
    if (shape?.type === 'boolean') known.set(`no-${xformName(member)}`, shape);
  }
  const extra = new Set([...(ADDED_OPTIONS[`${command.service} ${command.operation}`] ?? []), ...(api.paginated.has(operationName) ? PAGINATION_OPTIONS : [])]);
  return command.options.flatMap(({ name, value }) => {
    if (GLOBAL_OPTIONS.has(name) || extra.has(name)) return [];
    if (!known.has(name)) return [`${where}: no option --${name}`];
    return shorthandProblems(where, name, known.get(name), value);
  });
}

/** The keys of a shorthand structure value (`key=value,key=value`) that the structure lacks. */
function shorthandProblems(where: string, option: string, shape: Shape | undefined, value: string | undefined): string[] {
  if (shape?.type !== 'structure' || !value || value.trimStart().startsWith('{')) return [];
  const keys = value.split(',').map((pair) => pair.split('=')[0]!.trim());
  return keys.filter((key) => !(key in (shape.members ?? {}))).map((key) => `${where}: --${option} has no key ${key}`);
}
