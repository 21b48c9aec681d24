'use strict';
// serverless.yml variable sources (`${file(./infra/serverless/params.cjs):...}`) that refuse, when
// the stack is packaged, parameters CloudFormation would only refuse halfway through a deploy (and
// then roll back), each with a message that says what to set.
const ARCHIVE_NAME = /^[.\-_A-Za-z0-9]{1,48}$/;

/** The problems of a set of parameters, as sentences; none when they can be deployed. */
function paramProblems(params) {
  const problems = [];
  const { clusterAccess, subnetIds, securityGroupIds, busName } = params;
  const required = { eks: ['clusterName', 'clusterEndpoint', 'clusterCa'], secret: ['kubeconfigSecretArn'], kubeconfig: [] }[clusterAccess];
  if (!required) problems.push(`clusterAccess must be eks, secret or (offline only) kubeconfig, not ${JSON.stringify(clusterAccess)}`);
  for (const name of required ?? []) {
    if (!params[name]) problems.push(`--param="${name}=..." is required with clusterAccess=${clusterAccess} (docs/deploying.md, step 2)`);
  }
  // Lambda refuses a VPC configuration with subnets and no security group, and ignores groups without subnets.
  if (subnetIds && !securityGroupIds) problems.push('subnetIds is set without securityGroupIds: the functions need both to run in a VPC (docs/deploying.md, "A private cluster endpoint")');
  if (securityGroupIds && !subnetIds) problems.push('securityGroupIds is set without subnetIds: the functions need both to run in a VPC');
  // The bus archive is named after the bus.
  if (!ARCHIVE_NAME.test(busName)) {
    problems.push(`busName ${JSON.stringify(busName)} (${busName.length} characters) also names the bus archive, whose name is at most 48 letters, digits, '.', '-' or '_': use a shorter stage (at most 29 characters with the default busName) or --param="busName=..."`);
  }
  return problems;
}

const PARAMS = ['clusterAccess', 'clusterName', 'clusterEndpoint', 'clusterCa', 'kubeconfigSecretArn', 'subnetIds', 'securityGroupIds', 'busName'];

module.exports = {
  paramProblems,
  /** `custom.checkedParams`: resolves to the checked parameters, or stops the package naming every problem. */
  async checked({ resolveVariable }) {
    const params = {};
    for (const name of PARAMS) params[name] = String((await resolveVariable(`param:${name}`)) ?? '');
    const problems = paramProblems(params);
    if (problems.length > 0) throw new Error(`serverless.yml's parameters cannot be deployed:\n  - ${problems.join('\n  - ')}`);
    return params;
  },
  /** The last resort of `provider.region`: no region was given anywhere. */
  async noRegion() {
    throw new Error('no AWS region is set: export AWS_REGION (or AWS_DEFAULT_REGION), or pass --region, as docs/deploying.md says');
  },
};
