// Invoking a function that `osls offline` serves, through its Lambda Invoke API, as an AWS service
// would (RequestResponse).
export class FunctionError extends Error {
  constructor(
    message: string,
    /** What the function or the API answered. */
    readonly payload: unknown,
  ) {
    super(message);
    this.name = 'FunctionError';
  }
}

/** Resolves with the function's answer; rejects with a FunctionError when it failed or could not run, or on timeout. */
export async function invokeFunction(lambdaUrl: string, functionName: string, event: unknown, timeoutMs: number): Promise<unknown> {
  const response = await fetch(`${lambdaUrl}/2015-03-31/functions/${functionName}/invocations`, {
    method: 'POST',
    body: JSON.stringify(event),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let payload: unknown = text;
  try {
    payload = text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    // not JSON: kept as text
  }
  const functionError = response.headers.get('x-amz-function-error');
  if (!response.ok || functionError) {
    throw new FunctionError(`${functionName} failed (${functionError ?? `HTTP ${response.status}`}): ${JSON.stringify(payload)}`, payload);
  }
  return payload;
}
