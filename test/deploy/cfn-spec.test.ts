// The packaged stack, both access modes, against the CloudFormation resource specification.
import { describe, expect, inject, it } from 'vitest';
import { checkAgainstSpec } from './cfn-spec.js';
import { loadTemplate } from './template.js';

describe.each(['eks', 'secret'] as const)('the %s package against the CloudFormation specification', (variant) => {
  it('uses only known resource types, known properties of the right types, every required property, and attributes that exist', () => {
    const template = loadTemplate(inject('serverlessPackages')[variant]);

    const report = checkAgainstSpec(template);

    expect(report.problems).toEqual([]);
    expect(report.resources).toBe(Object.keys(template.Resources).length);
    console.info(`${variant}: ${report.resources} resources and ${report.properties} property values checked against the CloudFormation specification`);
  });
});

describe('the specification check', () => {
  const template = () => loadTemplate(inject('serverlessPackages').eks);

  it('fails a misspelt property', () => {
    const broken = template();
    const queue = broken.Resources.ReconcileQueue!.Properties;
    queue.VisibiltyTimeout = queue.VisibilityTimeout;
    delete queue.VisibilityTimeout;

    const { problems } = checkAgainstSpec(broken);

    expect(problems).toEqual([expect.stringMatching(/^ReconcileQueue \(AWS::SQS::Queue\)\.VisibiltyTimeout: unknown property/)]);
  });

  it('fails a missing required property, a value of the wrong type and one outside its allowed values', () => {
    const broken = template();
    delete broken.Resources.ResyncSchedule!.Properties.FlexibleTimeWindow;
    broken.Resources.ReconcileDeadLetterAlarm!.Properties.Threshold = 'one';
    broken.Resources.ResyncSchedule!.Properties.State = 'ON';

    const { problems } = checkAgainstSpec(broken);

    expect(problems.sort()).toEqual([
      'ReconcileDeadLetterAlarm (AWS::CloudWatch::Alarm).Threshold: expected a number, found "one"',
      'ResyncSchedule (AWS::Scheduler::Schedule).State: ON is not one of ENABLED, DISABLED',
      'ResyncSchedule (AWS::Scheduler::Schedule): required property FlexibleTimeWindow is missing',
    ]);
  });

  it('fails an attribute the resource does not have, and a reference to a resource the stack lacks', () => {
    const broken = template();
    broken.Resources.ReconcileRule!.Properties.Targets[0].Arn = { 'Fn::GetAtt': ['ReconcileQueue', 'Url'] };
    broken.Resources.ReconcileQueuePolicy!.Properties.Queues = [{ Ref: 'ReconcileQueu' }];

    const { problems } = checkAgainstSpec(broken);

    expect(problems).toEqual([
      expect.stringContaining('Fn::GetAtt ReconcileQueue.Url: a AWS::SQS::Queue has no attribute Url'),
      expect.stringContaining('Ref ReconcileQueu: no such resource'),
    ]);
  });

  it('fails an unknown resource type', () => {
    const broken = template();
    broken.Resources.EventBus!.Type = 'AWS::Events::Bus';

    const { problems } = checkAgainstSpec(broken);

    expect(problems).toContain('EventBus: unknown resource type AWS::Events::Bus');
  });
});
