// The KindCustomHttp custom resource: its API identity, the spec schema every function validates
// with (the original CRD let any integers and strings through, so the functions check again), and
// the status it reports.
import { z } from 'zod';

export const GROUP = 'groupsp.measutosh.dev';
export const VERSION = 'v1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'KindCustomHttp';
export const PLURAL = 'kindcustomhttps';

/** The server's defaults, which the original operator hard-coded. */
export const DEFAULT_IMAGE = 'measutosh/http-server';
export const DEFAULT_CONTAINER_PORT = 8080;
/** replicaCount is an int32, as the original CRD declared it. */
export const MAX_REPLICAS = 2 ** 31 - 1;
/** What one ConfigMap can hold: its keys and values together (the apiserver's own limit). */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** A spec's problems listed in a message at most; the rest are counted. */
const MAX_PROBLEMS_LISTED = 10;

/** The config file key the peer server reads its peers from: one `host,port` line each. */
export const HOSTPORTS_KEY = 'hostports';

const portNumber = z.number().int().min(1).max(65535);
// A DNS name or an IPv4 address, then a port.
const hostportLine = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*,[0-9]{1,5}$/;

/** Every non-blank line of a hostports file must be `host,port` with a port from 1 to 65535. */
export function hostportsProblems(hostports: string): string[] {
  return hostports.split('\n').flatMap((raw, index) => {
    const line = raw.trim();
    if (line === '') return [];
    const port = Number(line.split(',')[1]);
    if (!hostportLine.test(line) || port < 1 || port > 65535) {
      return [`line ${index + 1} ${JSON.stringify(raw)} is not host,port with a port from 1 to 65535`];
    }
    return [];
  });
}

const quantity = z
  .union([z.string().regex(/^[+-]?[0-9.]+([eE][+-]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?$/, 'is not a Kubernetes quantity'), z.number()])
  .transform(String);
const resourceList = z.record(z.string(), quantity);
// The apiserver's rule for ConfigMap keys: they become file names under /config.
const configKey = z.string().max(253).regex(/^[-._a-zA-Z0-9]+$/, 'is not a valid ConfigMap key (letters, digits, -, _ and . only)');

/** Bytes a ConfigMap's data takes, counted as the apiserver counts them. */
export function configDataBytes(data: Record<string, string>): number {
  return Object.entries(data).reduce((sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(value), 0);
}

export const kindCustomHttpSpecSchema = z.object({
  replicaCount: z.number().int().min(0).max(MAX_REPLICAS),
  /** The Service's port. */
  port: portNumber,
  configMapData: z
    .record(configKey, z.string())
    .refine((data) => configDataBytes(data) <= MAX_CONFIG_BYTES, `must hold at most ${MAX_CONFIG_BYTES} bytes in all, what one ConfigMap can hold`)
    .default({})
    .superRefine((data, ctx) => {
      const hostports = data[HOSTPORTS_KEY];
      if (hostports === undefined) return;
      for (const problem of hostportsProblems(hostports)) ctx.addIssue({ code: 'custom', path: [HOSTPORTS_KEY], message: problem });
    }),
  image: z.string().regex(/^\S+$/, 'must be an image reference without spaces').default(DEFAULT_IMAGE),
  /** The port the server listens on inside the pod. */
  containerPort: portNumber.default(DEFAULT_CONTAINER_PORT),
  resources: z.object({ requests: resourceList.optional(), limits: resourceList.optional() }).strict().optional(),
});
export type KindCustomHttpSpec = z.infer<typeof kindCustomHttpSpecSchema>;

export interface Condition {
  type: 'Ready' | 'Progressing' | 'Degraded';
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration: number;
  lastTransitionTime: string;
}

export interface KindCustomHttpStatus {
  observedGeneration?: number;
  replicas?: number;
  readyReplicas?: number;
  /** The pods' label selector, as a string (the scale subresource's labelSelectorPath). */
  selector?: string;
  conditions?: Condition[];
}

/** The custom resource as read from the API: the spec is unvalidated until parsed. */
export interface KindCustomHttp {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    resourceVersion?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: unknown;
  status?: KindCustomHttpStatus;
}

export type SpecParseResult = { ok: true; spec: KindCustomHttpSpec } | { ok: false; message: string };

/** Validates a CR's spec, with one readable message naming its problems (the first ten, and how many more). */
export function parseSpec(spec: unknown): SpecParseResult {
  const result = kindCustomHttpSpecSchema.safeParse(spec ?? {});
  if (result.success) return { ok: true, spec: result.data };
  const problems = result.error.issues.map((issue) => `spec.${issue.path.join('.')}: ${issue.message}`);
  const more = problems.length - MAX_PROBLEMS_LISTED;
  const message = problems.slice(0, MAX_PROBLEMS_LISTED).join('; ') + (more > 0 ? `; and ${more} more` : '');
  return { ok: false, message };
}
