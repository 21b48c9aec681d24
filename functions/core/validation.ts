// Schema pieces every boundary shares (the CR spec, the bus event, each process's environment):
// Kubernetes names, and one way to turn zod's issues into a message a person can act on.
import { z } from 'zod';

/** A namespace: a DNS-1123 label. */
export const namespaceName = z.string().max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'is not a namespace name');
/** Most objects' names (KindCustomHttps, ConfigMaps, ...): a DNS-1123 subdomain. */
export const objectName = z.string().min(1).max(253).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'is not a Kubernetes object name');

/** `path: message` for each issue, joined; at most `limit` listed, the rest counted. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], options: { prefix?: string; limit?: number } = {}): string {
  const { prefix = '', limit = Infinity } = options;
  const problems = issues.map((issue) => `${[prefix, ...issue.path.map(String)].filter(Boolean).join('.') || '(root)'}: ${issue.message}`);
  const more = problems.length - limit;
  return problems.slice(0, limit).join('; ') + (more > 0 ? `; and ${more} more` : '');
}
