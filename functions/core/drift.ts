// Deciding, without any API call, what a child needs: whether it is ours to write, and which of
// the fields we own differ from what we want. The reconcile and the resync ask the same questions
// of the same observed objects, so they always agree on what drifted.
import { isDeepStrictEqual } from 'node:util';
import { childKindInfo, infoOf, type ChildKind, type ChildObject, type Children } from './children.js';
import { LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGED_BY, selectorLabels } from './desired.js';
import { API_VERSION, KIND, type KindCustomHttp } from './kindcustomhttp.js';

/** Annotation on a CR that lets it take over existing objects under its children's names. */
export const ADOPT_ANNOTATION = 'groupsp.measutosh.dev/adopt-existing';

/**
 * Whose an object under a child's name is:
 * - `ours`: this CR's, or an earlier CR's of the same name, or our own orphaned child;
 * - `adoptable`: made by the original operator, or the CR asks to adopt it;
 * - `foreign`: anybody else's; it is left as it is.
 */
export type Claim = { kind: 'absent' } | { kind: 'ours' } | { kind: 'adoptable'; why: string } | { kind: 'foreign'; why: string };

interface Metadata {
  name?: string;
  labels?: Record<string, string>;
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>;
}

export function claimOf(kind: ChildKind, observed: ChildObject | undefined, cr: KindCustomHttp, siblings: Children): Claim {
  if (!observed) return { kind: 'absent' };
  const metadata = (observed.metadata ?? {}) as Metadata;
  const controller = metadata.ownerReferences?.find((ref) => ref.controller);
  if (controller) return controlledClaim(controller, cr);
  if (isOurOrphan(metadata, cr)) return { kind: 'ours' };
  if (infoOf(kind).madeByOriginal?.(observed, siblings)) return { kind: 'adoptable', why: 'the original operator made it' };
  if (cr.metadata.annotations?.[ADOPT_ANNOTATION] === 'true') return { kind: 'adoptable', why: `the CR has ${ADOPT_ANNOTATION}=true` };
  return { kind: 'foreign', why: 'it has no controller and was not made by this operator' };
}

type OwnerReference = NonNullable<Metadata['ownerReferences']>[number];

function controlledClaim(controller: OwnerReference, cr: KindCustomHttp): Claim {
  // Another uid is an earlier CR of this name, deleted while its children outlived it.
  const sameCr = controller.kind === KIND && controller.apiVersion === API_VERSION && controller.name === cr.metadata.name;
  return sameCr ? { kind: 'ours' } : { kind: 'foreign', why: `it is controlled by ${controller.kind} ${controller.name}` };
}

/** Our own child whose owner reference was removed (the CR deleted with propagation Orphan). */
function isOurOrphan(metadata: Metadata, cr: KindCustomHttp): boolean {
  const labels = metadata.labels ?? {};
  return labels[LABEL_MANAGED_BY] === MANAGED_BY && labels[LABEL_INSTANCE] === selectorLabels(cr.metadata.name)[LABEL_INSTANCE];
}

/** Paths under `desired` whose values `actual` lacks or holds differently: what an apply would change. */
export function changedFields(desired: unknown, actual: unknown, path = ''): string[] {
  if (isObject(desired)) return changedProperties(desired, isObject(actual) ? actual : {}, path);
  if (Array.isArray(desired)) return changedItems(desired, actual, path) ? [path] : [];
  if (sameQuantity(desired, actual, path)) return [];
  return isDeepStrictEqual(desired, actual) ? [] : [path];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function changedProperties(desired: Record<string, unknown>, actual: Record<string, unknown>, path: string): string[] {
  return Object.entries(desired).flatMap(([key, value]) => (path === '' && key === 'status' ? [] : changedFields(value, actual[key], path ? `${path}.${key}` : key)));
}

/** A list is compared whole: the same length, each item holding what the desired one holds. */
function changedItems(desired: unknown[], actual: unknown, path: string): boolean {
  if (!Array.isArray(actual) || actual.length !== desired.length) return true;
  return desired.some((item, index) => changedFields(item, actual[index], `${path}[]`).length > 0);
}

const quantitySuffixes: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

function quantityValue(value: unknown): number | undefined {
  const match = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(String(value));
  return match ? Number(match[1]) * quantitySuffixes[match[2] ?? '']! : undefined;
}

/** The apiserver stores resource quantities in canonical form ("0.5" as "500m"): compare their values. */
function sameQuantity(desired: unknown, actual: unknown, path: string): boolean {
  if (!/\.resources\.(requests|limits)\./.test(path)) return false;
  const [a, b] = [quantityValue(desired), quantityValue(actual)];
  return a !== undefined && b !== undefined && Math.abs(a - b) <= Math.abs(a) * 1e-9;
}

function valueAt(object: unknown, path: string[]): unknown {
  return path.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], object);
}

/** The exact fields `live` holds differently: a list with other items, a map with other entries (set to null). */
function exactFieldChanges(kind: ChildKind, desired: unknown, live: unknown): Array<{ path: string[]; value: unknown }> {
  return childKindInfo[kind].exactFields.flatMap((path): Array<{ path: string[]; value: unknown }> => {
    const [wanted, found] = [valueAt(desired, path), valueAt(live, path)];
    if (Array.isArray(wanted)) return changedFields(wanted, found, path.join('.')).length > 0 ? [{ path, value: wanted }] : [];
    const keep = (wanted ?? {}) as Record<string, unknown>;
    const stray = Object.keys((found ?? {}) as Record<string, unknown>).filter((key) => !(key in keep));
    return stray.length > 0 ? [{ path, value: Object.fromEntries(stray.map((key) => [key, null])) }] : [];
  });
}

/**
 * A JSON merge patch that makes `live`'s exact fields what is desired (a list replaced whole,
 * stray map entries deleted), or undefined when they already are: what server-side apply cannot
 * do to fields other managers set.
 */
export function exactFieldsPatch(kind: ChildKind, desired: unknown, live: unknown): Record<string, unknown> | undefined {
  const changes = exactFieldChanges(kind, desired, live);
  if (changes.length === 0) return undefined;
  const patch: Record<string, unknown> = {};
  for (const { path, value } of changes) {
    let node = patch;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[path.at(-1)!] = value;
  }
  return patch;
}

/** Everything about `observed` that differs from `desired`: the owned fields that changed, and exact fields holding more. */
export function driftOf(kind: ChildKind, desired: ChildObject, observed: ChildObject): string[] {
  const exact = exactFieldChanges(kind, desired, observed).map(({ path }) => path.join('.'));
  return [...new Set([...changedFields(desired, observed), ...exact])];
}
