// Schema pieces every boundary shares (the CR spec, the bus event, each process's environment):
// Kubernetes names, and one way to turn zod's issues into a message a person can act on.
//
// Schemas use zod/mini: the same validation as zod's chained API, with functions a bundler can
// leave out, which took zod's share of a cold start from about 29 ms to a few.
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

// zod/mini ships no messages of its own; these are zod's English ones (the English alone: the
// namespace of every locale weighs 258 KiB).
z.config(en());

/** A namespace: a DNS-1123 label. */
export const namespaceName = z.string().check(z.maxLength(63), z.regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'is not a namespace name'));
/** Most objects' names (KindCustomHttps, ConfigMaps, ...): a DNS-1123 subdomain. */
export const objectName = z.string().check(z.minLength(1), z.maxLength(253), z.regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'is not a Kubernetes object name'));

/** A string of `min` to `max` characters. */
export const boundedString = (min: number, max: number) => z.string().check(z.minLength(min), z.maxLength(max));

/** `path: message` for each issue, joined; at most `limit` listed, the rest counted. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], options: { prefix?: string; limit?: number } = {}): string {
  const { prefix = '', limit = Infinity } = options;
  const problems = issues.map((issue) => `${[prefix, ...issue.path.map(String)].filter(Boolean).join('.') || '(root)'}: ${issue.message}`);
  const more = problems.length - limit;
  return problems.slice(0, limit).join('; ') + (more > 0 ? `; and ${more} more` : '');
}
