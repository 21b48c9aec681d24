// What a failed PutEvents means, in one place: a whole request or one entry of it. Three kinds:
// transient (throttling, server errors, no answer: retried), the entry itself is wrong (given up,
// no retry can change it), and the bus refusing the forwarder (permissions, a missing bus): no
// retry cures that either, but a fix of the configuration does, so the events wait and are retried
// while the forwarder says once, loudly, what to fix, and stops reporting itself ready.

export interface PublishFailure {
  /** The metric label: throttled, server-error, timeout, network, http-NNN, entry-failed, rejected, access-denied, bus-not-found. */
  reason: string;
  /** The AWS error code or name, when there is one. */
  code?: string;
  kind: 'transient' | 'entry-rejected' | 'configuration';
  /** For a configuration failure: what the operator must change. */
  fix?: string;
}

const ACCESS_FIX =
  "allow the forwarder's IAM role events:PutEvents on the bus for source stimulated-peering.forwarder (infra/forwarder/iam-policy.json, bound to its ServiceAccount), and check the bus's resource policy";
const BUS_FIX = 'create the bus or set EVENT_BUS_NAME and AWS_REGION to an existing one (serverless.yml deploys it)';

/** Refusals of the forwarder itself, by AWS error code. */
const configurationFailures: Record<string, { reason: string; fix: string }> = {
  AccessDeniedException: { reason: 'access-denied', fix: ACCESS_FIX },
  NotAuthorizedForSourceException: { reason: 'access-denied', fix: ACCESS_FIX },
  NotAuthorizedForDetailTypeException: { reason: 'access-denied', fix: ACCESS_FIX },
  UnrecognizedClientException: { reason: 'access-denied', fix: "give the forwarder valid AWS credentials (the IAM role of its ServiceAccount)" },
  ResourceNotFoundException: { reason: 'bus-not-found', fix: BUS_FIX },
};

/** Entry error codes that say the entry itself is wrong. */
const rejectedEntryCodes = new Set(['InvalidArgument', 'MalformedDetail', 'ValidationException']);

function configurationFailure(code: string | undefined): PublishFailure | undefined {
  const known = code === undefined ? undefined : configurationFailures[code];
  return known && { ...known, code, kind: 'configuration' };
}

/** What a failed entry of an answered request means. */
export function failureOfEntry(code: string | undefined): PublishFailure {
  const configuration = configurationFailure(code);
  if (configuration) return configuration;
  if (code !== undefined && rejectedEntryCodes.has(code)) return { reason: 'rejected', code, kind: 'entry-rejected' };
  return { reason: code === 'ThrottlingException' ? 'throttled' : 'entry-failed', code: code ?? 'NoResult', kind: 'transient' };
}

/** What a whole request that failed means: throttled, a server error, no answer in time, no connection, or a refusal. */
export function failureOfRequest(error: unknown): PublishFailure {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  const configuration = configurationFailure(e.name);
  if (configuration) return configuration;
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return { reason: 'timeout', code: e.name, kind: 'transient' };
  const status = e.$metadata?.httpStatusCode;
  if (e.name === 'ThrottlingException' || status === 429) return { reason: 'throttled', code: e.name, kind: 'transient' };
  if (status !== undefined) return { reason: status >= 500 ? 'server-error' : `http-${status}`, code: e.name, kind: 'transient' };
  return { reason: 'network', code: e.name, kind: 'transient' };
}
