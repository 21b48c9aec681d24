import type { V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { KindCustomHttpStatus } from './kindcustomhttp.js';
import { boundedMessage, computeStatus, MAX_MESSAGE_LENGTH, statusChanged, type Observation } from './status.js';

const t0 = new Date('2026-11-24T09:00:00Z');
const t1 = new Date('2026-11-24T09:05:00Z');
const selector = 'app.kubernetes.io/name=http-server,app.kubernetes.io/instance=sample';

function deployment(status: V1Deployment['status'], generation = 1): V1Deployment {
  return { metadata: { generation }, status };
}

function converged(dep: V1Deployment, desiredReplicas = 2, generation = 3): Observation {
  return { kind: 'converged', generation, selector, desiredReplicas, deployment: dep };
}

const conditionOf = (status: KindCustomHttpStatus, type: string) => status.conditions!.find((c) => c.type === type)!;

describe('computeStatus', () => {
  describe('when every replica is updated and ready', () => {
    const status = computeStatus(undefined, converged(deployment({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2 })), t0);

    it('reports Ready, not Progressing, not Degraded', () => {
      expect(conditionOf(status, 'Ready')).toMatchObject({ status: 'True', reason: 'Available', message: '2/2 replicas ready' });
      expect(conditionOf(status, 'Progressing')).toMatchObject({ status: 'False' });
      expect(conditionOf(status, 'Degraded')).toMatchObject({ status: 'False' });
    });

    it('records the generation it observed, the replica counts and the pod selector', () => {
      expect(status).toMatchObject({ observedGeneration: 3, replicas: 2, readyReplicas: 2, selector });
      expect(status.conditions!.every((c) => c.observedGeneration === 3)).toBe(true);
    });
  });

  it('reports Progressing while the Deployment controller has not seen the latest spec', () => {
    const status = computeStatus(undefined, converged(deployment({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2 }, 2)), t0);
    expect(conditionOf(status, 'Ready').status).toBe('False');
    expect(conditionOf(status, 'Progressing')).toMatchObject({ status: 'True', reason: 'RollingOut' });
  });

  it('reports not Ready while replicas are missing', () => {
    const status = computeStatus(undefined, converged(deployment({ observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1 })), t0);
    expect(conditionOf(status, 'Ready')).toMatchObject({ status: 'False', reason: 'ReplicasNotReady', message: '1/2 replicas ready' });
  });

  it('reports Ready with zero replicas when zero are asked for', () => {
    const status = computeStatus(undefined, converged(deployment({ observedGeneration: 1 }), 0), t0);
    expect(conditionOf(status, 'Ready').status).toBe('True');
  });

  it('reports Degraded when the rollout exceeded its progress deadline', () => {
    const stuck = deployment({
      observedGeneration: 1,
      replicas: 2,
      conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet x has timed out progressing.' }],
    });
    expect(conditionOf(computeStatus(undefined, converged(stuck), t0), 'Degraded')).toMatchObject({ status: 'True', reason: 'ProgressDeadlineExceeded' });
  });

  describe('when the spec is invalid', () => {
    const previous = computeStatus(undefined, converged(deployment({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2 })), t0);
    const status = computeStatus(previous, { kind: 'failed', generation: 4, selector, failure: { reason: 'InvalidSpec', message: 'spec.port: too big' } }, t1);

    it('reports Degraded and not Ready with the reason and message', () => {
      expect(conditionOf(status, 'Degraded')).toMatchObject({ status: 'True', reason: 'InvalidSpec', message: 'spec.port: too big' });
      expect(conditionOf(status, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    });

    it('keeps the last replica counts it saw', () => {
      expect(status).toMatchObject({ observedGeneration: 4, replicas: 2, readyReplicas: 2 });
    });

    it('cuts a message longer than the CRD allows, saying so', () => {
      const long = computeStatus(undefined, { kind: 'failed', generation: 1, selector, failure: { reason: 'InvalidSpec', message: 'x'.repeat(400_000) } }, t0);

      const message = conditionOf(long, 'Degraded').message;

      expect(message).toHaveLength(MAX_MESSAGE_LENGTH);
      expect(message).toMatch(/^x+ \[cut: \d+ more characters\]$/);
    });
  });

  describe('transition times', () => {
    const ready = converged(deployment({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2 }));
    const first = computeStatus(undefined, ready, t0);

    it('keeps a condition’s lastTransitionTime while its status stays the same', () => {
      const again = computeStatus(first, ready, t1);
      expect(conditionOf(again, 'Ready').lastTransitionTime).toBe(t0.toISOString());
      expect(statusChanged(first, again)).toBe(false);
    });

    it('moves lastTransitionTime when the status flips', () => {
      const notReady = computeStatus(first, converged(deployment({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 1 })), t1);
      expect(conditionOf(notReady, 'Ready').lastTransitionTime).toBe(t1.toISOString());
      expect(statusChanged(first, notReady)).toBe(true);
    });
  });

  it('sees a first status as a change', () => {
    expect(statusChanged(undefined, computeStatus(undefined, converged(deployment({})), t0))).toBe(true);
  });
});

describe('boundedMessage', () => {
  it('leaves a message within the limit as it is', () => {
    expect(boundedMessage('short', 10)).toBe('short');
  });

  it('cuts a longer one to exactly the limit and counts what it cut', () => {
    const cut = boundedMessage('abcdefghijklmnopqrstuvwxyz0123456789abcdefghij', 40);
    expect(cut).toHaveLength(40);
    expect(cut).toBe('abcdefghijklmn [cut: 32 more characters]');
  });
});
