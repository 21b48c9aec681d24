// The KindCustomHttp custom resource: its API identity, the spec schema every function validates
// with (the original CRD let any integers and strings through, so the functions check again), and
// the status it reports.
import * as z from 'zod/mini';
import { describeIssues } from './validation.js';

export const GROUP = 'groupsp.measutosh.dev';
export const VERSION = 'v1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'KindCustomHttp';
export const PLURAL = 'kindcustomhttps';

/** The server's port, which the original operator hard-coded. The image's default is a setting of the operator (images.ts). */
export const DEFAULT_CONTAINER_PORT = 8080;
/** replicaCount is an int32, as the original CRD declared it. */
export const MAX_REPLICAS = 2 ** 31 - 1;
/** What one ConfigMap can hold: its keys and values together (the apiserver's own limit). */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** A spec's problems listed in a message at most; the rest are counted. */
const MAX_PROBLEMS_LISTED = 10;

/** The config file key the peer server reads its peers from: one `host,port` line each. */
export const HOSTPORTS_KEY = 'hostports';

const portNumber = z.int().check(z.minimum(1), z.maximum(65535));
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

const quantity = z.pipe(
  z.union([z.string().check(z.regex(/^[+-]?[0-9.]+([eE][+-]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?$/, 'is not a Kubernetes quantity')), z.number()]),
  z.transform(String),
);
const resourceList = z.record(z.string(), quantity);
// The apiserver's rule for ConfigMap keys: they become file names under /config.
const configKey = z.string().check(z.maxLength(253), z.regex(/^[-._a-zA-Z0-9]+$/, 'is not a valid ConfigMap key (letters, digits, -, _ and . only)'));

/** Bytes a ConfigMap's data takes, counted as the apiserver counts them. */
export function configDataBytes(data: Record<string, string>): number {
  return Object.entries(data).reduce((sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(value), 0);
}

const configMapData = z
  .record(configKey, z.string().check(z.maxLength(MAX_CONFIG_BYTES)))
  .check(
    z.refine((data) => configDataBytes(data) <= MAX_CONFIG_BYTES, `must hold at most ${MAX_CONFIG_BYTES} bytes in all, what one ConfigMap can hold`),
    z.superRefine((data, ctx) => {
      const hostports = data[HOSTPORTS_KEY];
      if (hostports === undefined) return;
      for (const problem of hostportsProblems(hostports)) ctx.addIssue({ code: 'custom', path: [HOSTPORTS_KEY], message: problem, input: hostports });
    }),
  );

export const kindCustomHttpSpecSchema = z.object({
  replicaCount: z.int().check(z.minimum(0), z.maximum(MAX_REPLICAS)),
  /** The Service's port. */
  port: portNumber,
  // measutosh/http-server spins a core and floods its log while /config/hostports is missing, so a
  // CR without one gets an empty file: no peers, and a quiet server.
  configMapData: z.pipe(
    z.optional(configMapData),
    z.transform((data): Record<string, string> => ({ [HOSTPORTS_KEY]: '', ...data })),
  ),
  /** Absent: the operator's default image (its DEFAULT_IMAGE setting), chosen when it reconciles. */
  image: z.optional(z.string().check(z.minLength(1), z.regex(/^\S+$/, 'must be an image reference without spaces'))),
  /** The port the server listens on inside the pod. */
  containerPort: z._default(portNumber, DEFAULT_CONTAINER_PORT),
  resources: z.optional(z.strictObject({ requests: z.optional(resourceList), limits: z.optional(resourceList) })),
});
export type KindCustomHttpSpec = z.infer<typeof kindCustomHttpSpecSchema>;
/** A valid spec with the image the operator chose for it (images.ts): what the children are built from. */
export type ResolvedSpec = KindCustomHttpSpec & { image: string };

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
  return { ok: false, message: describeIssues(result.error.issues, { prefix: 'spec', limit: MAX_PROBLEMS_LISTED }) };
}
