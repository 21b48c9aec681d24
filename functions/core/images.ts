// Which images a KindCustomHttp may run: the cluster admin's choice (ALLOWED_IMAGES), not the CR
// author's. Anyone allowed to create a CR could otherwise run any image in its namespace, with
// whatever the operator's pods are given, where they could not create a Deployment themselves.
// A CR that names no image gets DEFAULT_IMAGE, which must itself be allowed.
import { parseSpec, type ResolvedSpec } from './kindcustomhttp.js';

/** The images the functions' settings allow, and the one a CR without `image` gets. */
export interface ImagePolicy {
  /**
   * Each entry, compared with the reference as the CR writes it (no registry is implied):
   * - ending in `/`: every image under that registry or path, e.g. `registry.example.com/team/`;
   * - ending in `:`: every tag of that repository, e.g. `measutosh/http-server:`;
   * - a repository with a tag or digest: exactly that reference;
   * - a bare repository: that repository untagged, or with any tag, digest or both.
   */
  allowed: string[];
  defaultImage: string;
}

/** The defaults: the original server, and the project's own peer server image, at any tag or digest. */
export const defaultImagePolicy: ImagePolicy = {
  allowed: ['measutosh/http-server', 'stimulated-peering/peer-server'],
  defaultImage: 'measutosh/http-server',
};

// What may follow a bare repository: a tag, a digest, or both.
const tagOrDigest = /^(:[\w][\w.-]{0,127})?(@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$/;

/** Whether `entry` names a tag or a digest (a colon after the last slash, or an @). */
function pinned(entry: string): boolean {
  return entry.includes('@') || entry.slice(entry.lastIndexOf('/') + 1).includes(':');
}

function allows(entry: string, image: string): boolean {
  if (entry.endsWith('/') || entry.endsWith(':')) return image.startsWith(entry) && image.length > entry.length;
  if (pinned(entry)) return image === entry;
  return image.startsWith(entry) && tagOrDigest.test(image.slice(entry.length));
}

export function imageAllowed(policy: ImagePolicy, image: string): boolean {
  return policy.allowed.some((entry) => allows(entry, image));
}

export type ImageChoice = { ok: true; image: string } | { ok: false; message: string };

/** The image a CR's pods run: its own when allowed, the default when it names none. */
export function chooseImage(policy: ImagePolicy, requested: string | undefined): ImageChoice {
  const image = requested ?? policy.defaultImage;
  if (imageAllowed(policy, image)) return { ok: true, image };
  return { ok: false, message: `spec.image ${JSON.stringify(image)} is not allowed here; the operator's ALLOWED_IMAGES allows ${policy.allowed.map((entry) => JSON.stringify(entry)).join(', ')}` };
}

export type SpecCheck = { ok: true; spec: ResolvedSpec } | { ok: false; reason: 'InvalidSpec' | 'ImageNotAllowed'; message: string };

/** A CR's spec validated, with the image it runs chosen: what the reconcile and the resync build the children from. */
export function checkSpec(spec: unknown, policy: ImagePolicy): SpecCheck {
  const parsed = parseSpec(spec);
  if (!parsed.ok) return { ok: false, reason: 'InvalidSpec', message: parsed.message };
  const image = chooseImage(policy, parsed.spec.image);
  if (!image.ok) return { ok: false, reason: 'ImageNotAllowed', message: image.message };
  return { ok: true, spec: { ...parsed.spec, image: image.image } };
}
