import { describe, expect, it } from 'vitest';
import { classifyFailure, isTransient, TerminalFailureError } from './failures.js';
import { ApiError, NoAnswerError } from './kube-client.js';

const refused = (code: number, message: string, causes: string[] = []) =>
  new ApiError('PATCH /api/v1/namespaces/ns/services/a', code, { message, details: { causes: causes.map((reason) => ({ reason })) } });

describe('classifyFailure', () => {
  it.each([429, 408, 409, 500, 503, 504, 401])('retries HTTP %i', (code) => {
    expect(classifyFailure(refused(code, 'busy'))).toEqual({ kind: 'transient' });
  });

  it('retries a request with no answer, and anything that is not an API answer', () => {
    expect(isTransient(new NoAnswerError('GET /x', { ms: 10 }))).toBe(true);
    expect(isTransient(new Error('connect ECONNREFUSED 127.0.0.1:1'))).toBe(true);
  });

  it('sees a 404 as gone', () => {
    expect(classifyFailure(refused(404, 'not found'))).toEqual({ kind: 'gone' });
  });

  it('sees a write refused in a namespace being deleted as the end, not a failure', () => {
    expect(classifyFailure(refused(403, 'forbidden', ['NamespaceTerminating']))).toEqual({ kind: 'terminating' });
    expect(classifyFailure(refused(403, 'unable to create new content in namespace x because it is being terminated'))).toEqual({ kind: 'terminating' });
  });

  it('reports an exceeded quota as QuotaExceeded', () => {
    const failure = classifyFailure(refused(403, 'services "a" is forbidden: exceeded quota: none, requested: services=1, used: services=0, limited: services=0'));
    expect(failure).toMatchObject({ kind: 'terminal', reason: 'QuotaExceeded' });
  });

  it('reports a policy or webhook refusal as AdmissionDenied', () => {
    expect(classifyFailure(refused(403, "deployments.apps \"a\" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: no"))).toMatchObject({ kind: 'terminal', reason: 'AdmissionDenied' });
    expect(classifyFailure(refused(400, 'admission webhook "check.example.com" denied the request: no'))).toMatchObject({ kind: 'terminal', reason: 'AdmissionDenied' });
  });

  it('retries our own RBAC refusal, which a fix to the ClusterRole cures', () => {
    expect(classifyFailure(refused(403, 'services "a" is forbidden: User "x" cannot patch resource "services" in API group "" in the namespace "ns"'))).toEqual({ kind: 'transient' });
  });

  it('reports an apply the apiserver finds invalid as ApplyRejected, keeping its message', () => {
    const failure = classifyFailure(refused(422, 'Service "a" is invalid: spec.ports[0].port: Invalid value'));
    expect(failure).toEqual({ kind: 'terminal', reason: 'ApplyRejected', message: 'PATCH /api/v1/namespaces/ns/services/a: 422 Service "a" is invalid: spec.ports[0].port: Invalid value' });
  });

  it('passes a terminal failure raised by the core through as it is', () => {
    expect(classifyFailure(new TerminalFailureError('NameConflict', 'in the way'))).toEqual({ kind: 'terminal', reason: 'NameConflict', message: 'in the way' });
  });
});
