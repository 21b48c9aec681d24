// Every failure's path, decided in one place, as kubebuilder keeps them apart:
// - gone: the object is not there (any more); nothing to do;
// - terminating: its namespace is being deleted, and the CR with it; nothing to do;
// - terminal: refused for a reason no retry can change until someone acts (a spec, an image the
//   operator does not allow, a quota, a policy, an object in the way); reported on the CR as
//   Degraded, with one Warning Event;
// - transient: anything a retry may fix (an outage, throttling, a timeout, our own RBAC being
//   fixed); thrown, so that the platform tries again.
import { ApiError } from './kube-client.js';

export type TerminalReason = 'InvalidSpec' | 'ImageNotAllowed' | 'ApplyRejected' | 'QuotaExceeded' | 'AdmissionDenied' | 'NameConflict';

export type Failure =
  | { kind: 'gone' }
  | { kind: 'terminating' }
  | { kind: 'terminal'; reason: TerminalReason; message: string }
  | { kind: 'transient' };

/** A failure no retry can fix, with the reason and message the CR reports. */
export class TerminalFailureError extends Error {
  constructor(
    readonly reason: TerminalReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TerminalFailureError';
  }
}

// RBAC's refusal: `User "x" cannot create resource "deployments" in API group "apps" ...`. A fix
// to the ClusterRole cures it, so it is retried (and alarmed on if it lasts).
const rbacDenied = /\bcannot \S+ resource "/;
const quotaExceeded = /\bexceeded quota\b|\bforbidden: failed quota\b/;
const admissionDenied = /\badmission webhook\b|\bValidatingAdmissionPolicy\b|\bdenied (the )?request\b/;

function isNamespaceTerminating(error: ApiError): boolean {
  return error.causes.includes('NamespaceTerminating') || /because it is being terminated/.test(error.status.message ?? '');
}

export function classifyFailure(error: unknown): Failure {
  if (error instanceof TerminalFailureError) return { kind: 'terminal', reason: error.reason, message: error.message };
  if (!(error instanceof ApiError)) return { kind: 'transient' };
  const message = error.message;
  const { code } = error;
  if (code === 404) return { kind: 'gone' };
  if (isNamespaceTerminating(error)) return { kind: 'terminating' };
  if (code === 403) return forbidden(message);
  if (code === 400 || code === 422) {
    return { kind: 'terminal', reason: admissionDenied.test(message) ? 'AdmissionDenied' : 'ApplyRejected', message };
  }
  // 401 (an expired token is renewed), 408, 409 (a conflict), 410, 429, 5xx, and anything new.
  return { kind: 'transient' };
}

/** A 403 other than a namespace being deleted: a quota, our own RBAC, or an admission refusal. */
function forbidden(message: string): Failure {
  if (quotaExceeded.test(message)) return { kind: 'terminal', reason: 'QuotaExceeded', message };
  if (rbacDenied.test(message)) return { kind: 'transient' };
  return { kind: 'terminal', reason: 'AdmissionDenied', message };
}

/** Whether retrying may help: what the platform's retries are for. */
export function isTransient(error: unknown): boolean {
  return classifyFailure(error).kind === 'transient';
}
