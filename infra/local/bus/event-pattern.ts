// EventBridge event-pattern matching, for the patterns this project's rules use: every field the
// pattern names must hold one of the listed values (an array field: any of its elements), and a
// nested object matches nested fields. Content filters (prefix, numeric, anything-but, ...) are
// refused rather than half-done: a rule using one must not pass locally and fail on AWS.
export type EventPattern = { readonly [field: string]: EventPattern | readonly (string | number | boolean | null)[] };

export class UnsupportedPatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedPatternError';
  }
}

/** Throws an UnsupportedPatternError naming the first part of `pattern` that is not plain values. */
export function checkPattern(pattern: EventPattern, path = ''): void {
  for (const [field, expected] of Object.entries(pattern)) {
    const where = `${path}${field}`;
    if (Array.isArray(expected)) {
      const filter = expected.find((value) => typeof value === 'object' && value !== null);
      if (filter !== undefined) throw new UnsupportedPatternError(`${where}: content filter ${JSON.stringify(filter)} is not emulated`);
    } else if (typeof expected === 'object' && expected !== null) {
      checkPattern(expected as EventPattern, `${where}.`);
    } else {
      throw new UnsupportedPatternError(`${where}: a pattern field must be an array of values or an object`);
    }
  }
}

export function matchesPattern(pattern: EventPattern, event: unknown): boolean {
  if (typeof event !== 'object' || event === null) return false;
  return Object.entries(pattern).every(([field, expected]) => {
    const actual = (event as Record<string, unknown>)[field];
    if (!Array.isArray(expected)) return matchesPattern(expected as EventPattern, actual);
    const values: unknown[] = Array.isArray(actual) ? actual : [actual];
    return values.some((value) => (expected as unknown[]).includes(value));
  });
}
