import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { classifyApiError, RejectedApiError, TransientApiError } from './kube-api.js';

const apiError = (code: number, message = 'boom') => new ApiException(code, 'HTTP error', JSON.stringify({ kind: 'Status', message }), {});

describe('classifyApiError', () => {
  it.each([429, 408, 500, 503, 504])('treats HTTP %i as transient, to be retried', (code) => {
    expect(classifyApiError(apiError(code), 'get x')).toBeInstanceOf(TransientApiError);
  });

  it('treats a request with no HTTP answer as transient', () => {
    expect(classifyApiError(new Error('connect ECONNREFUSED 127.0.0.1:1'), 'get x')).toBeInstanceOf(TransientApiError);
  });

  it.each([400, 403, 404, 409, 422])('treats HTTP %i as a rejection carrying its code', (code) => {
    const error = classifyApiError(apiError(code), 'apply x');
    expect(error).toBeInstanceOf(RejectedApiError);
    expect((error as RejectedApiError).code).toBe(code);
  });

  it('recognises a write refused because the namespace is being deleted', () => {
    const body = JSON.stringify({ kind: 'Status', message: 'forbidden', details: { causes: [{ reason: 'NamespaceTerminating' }] } });
    const error = classifyApiError(new ApiException(403, 'Forbidden', body, {}), 'apply ConfigMap ns/a');
    expect((error as RejectedApiError).namespaceTerminating).toBe(true);
    expect((classifyApiError(apiError(403), 'get x') as RejectedApiError).namespaceTerminating).toBe(false);
  });

  it('keeps the API server’s message and the original error', () => {
    const original = apiError(422, 'spec.selector: field is immutable');
    const error = classifyApiError(original, 'apply Deployment ns/a');
    expect(error.message).toBe('apply Deployment ns/a: 422 spec.selector: field is immutable');
    expect(error.cause).toBe(original);
  });
});
