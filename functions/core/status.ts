// Status: a pure function of what a reconcile observed. It is rebuilt on every run; a condition
// keeps its lastTransitionTime while its status stays the same, so an unchanged world writes nothing.
import type { V1Deployment } from '@kubernetes/client-node';
import { isDeepStrictEqual } from 'node:util';
import type { TerminalReason } from './failures.js';
import type { Condition, KindCustomHttpStatus } from './kindcustomhttp.js';

/** Why a reconcile could not converge, when retrying cannot help until someone acts. */
export interface TerminalFailure {
  reason: TerminalReason;
  message: string;
}

/** The CRD's limit on a condition's message. */
export const MAX_MESSAGE_LENGTH = 32768;

/** `message`, cut to the CRD's limit with a marker saying so, so that a status write never fails on its length. */
export function boundedMessage(message: string, limit = MAX_MESSAGE_LENGTH): string {
  if (message.length <= limit) return message;
  const marker = (cut: number) => ` [cut: ${cut} more characters]`;
  const keep = limit - marker(message.length).length;
  return message.slice(0, keep) + marker(message.length - keep);
}

interface ObservationBase {
  generation: number;
  /** The server pods' label selector, which the scale subresource reports. */
  selector: string;
}

export type Observation =
  | (ObservationBase & { kind: 'converged'; desiredReplicas: number; deployment: V1Deployment })
  | (ObservationBase & { kind: 'failed'; failure: TerminalFailure });

type ConditionValue = Pick<Condition, 'status' | 'reason' | 'message'>;

/** A Deployment's status counts, 0 where the controller has not written them yet. */
function counts(deployment: V1Deployment) {
  const { observedGeneration = 0, updatedReplicas = 0, readyReplicas = 0, replicas = 0, conditions = [] } = deployment.status ?? {};
  return { observedGeneration, updated: updatedReplicas, ready: readyReplicas, total: replicas, conditions };
}

function rollout(deployment: V1Deployment, desiredReplicas: number) {
  const { observedGeneration, updated, ready, total, conditions } = counts(deployment);
  const observedLatest = observedGeneration >= (deployment.metadata?.generation ?? 0);
  const deadlineExceeded = conditions.find((c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded');
  const complete = observedLatest && updated >= desiredReplicas && ready >= desiredReplicas && total === desiredReplicas;
  return { ready, total, complete, deadlineExceeded };
}

/**
 * Where a Deployment's rollout stands, as far as its CR's conditions go: complete, still rolling,
 * or stuck past its progress deadline. Only a move between these can change the CR's Ready,
 * Progressing or Degraded condition, so only such a move of its status is worth a reconcile.
 */
export function rolloutPhase(deployment: V1Deployment): 'complete' | 'rolling' | 'stuck' {
  // A Deployment without spec.replicas runs one pod.
  const state = rollout(deployment, deployment.spec?.replicas ?? 1);
  if (state.deadlineExceeded) return 'stuck';
  return state.complete ? 'complete' : 'rolling';
}

function conditionValues(observation: Observation): Record<Condition['type'], ConditionValue> {
  if (observation.kind === 'failed') {
    const { reason, message } = observation.failure;
    return {
      Ready: { status: 'False', reason, message },
      Progressing: { status: 'False', reason, message: 'waiting for the cause to be fixed' },
      Degraded: { status: 'True', reason, message },
    };
  }
  const { desiredReplicas, deployment } = observation;
  const state = rollout(deployment, desiredReplicas);
  const counts = `${state.ready}/${desiredReplicas} replicas ready`;
  return {
    Ready: state.complete
      ? { status: 'True', reason: 'Available', message: counts }
      : { status: 'False', reason: 'ReplicasNotReady', message: counts },
    Progressing: state.complete
      ? { status: 'False', reason: 'RolloutComplete', message: counts }
      : { status: 'True', reason: 'RollingOut', message: `${counts}, ${state.total} running` },
    Degraded: state.deadlineExceeded
      ? { status: 'True', reason: 'ProgressDeadlineExceeded', message: state.deadlineExceeded.message ?? 'rollout is stuck' }
      : { status: 'False', reason: 'AsExpected', message: 'children applied' },
  };
}

/** The status to report for `observation`, reusing transition times from `current` where nothing moved. */
export function computeStatus(current: KindCustomHttpStatus | undefined, observation: Observation, now: Date): KindCustomHttpStatus {
  const values = conditionValues(observation);
  const conditions = (Object.keys(values) as Condition['type'][]).map((type): Condition => {
    const previous = current?.conditions?.find((c) => c.type === type);
    const value = values[type];
    return {
      type,
      ...value,
      message: boundedMessage(value.message),
      observedGeneration: observation.generation,
      lastTransitionTime: previous && previous.status === value.status ? previous.lastTransitionTime : now.toISOString(),
    };
  });
  const replicaCounts =
    observation.kind === 'converged'
      ? { replicas: observation.deployment.status?.replicas ?? 0, readyReplicas: observation.deployment.status?.readyReplicas ?? 0 }
      : { replicas: current?.replicas ?? 0, readyReplicas: current?.readyReplicas ?? 0 };
  return { observedGeneration: observation.generation, ...replicaCounts, selector: observation.selector, conditions };
}

export function statusChanged(current: KindCustomHttpStatus | undefined, next: KindCustomHttpStatus): boolean {
  return !isDeepStrictEqual(normalize(current ?? {}), normalize(next));
}

function normalize(status: KindCustomHttpStatus): KindCustomHttpStatus {
  return {
    observedGeneration: status.observedGeneration,
    replicas: status.replicas ?? 0,
    readyReplicas: status.readyReplicas ?? 0,
    selector: status.selector,
    conditions: [...(status.conditions ?? [])]
      .sort((a, b) => a.type.localeCompare(b.type))
      .map(({ type, status: s, reason, message, observedGeneration, lastTransitionTime }) => ({
        type, status: s, reason, message, observedGeneration, lastTransitionTime,
      })),
  };
}
