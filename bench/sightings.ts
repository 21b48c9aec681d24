// When a burst's children were first seen, kind by kind, by whoever looks (a watch, a poller), and
// when every kind of child a burst CR has (BURST_SPEC's, by the children table) was there.
import { childKinds, infoOf, isWanted, type ChildKind } from '../functions/core/children.js';
import { checkSpec, defaultImagePolicy } from '../functions/core/images.js';

/** What every CR of the benchmarks' bursts asks for. */
export const BURST_SPEC = { port: 80, replicaCount: 2, configMapData: { hostports: 'localhost,8080\n' } };

export function burstSpec() {
  const parsed = checkSpec(BURST_SPEC, defaultImagePolicy);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.spec;
}

/** The CR a child of `kind` named `childName` belongs to, for the short valid names the benchmarks give CRs. */
function crOf(kind: ChildKind, childName: string): string {
  const suffix = infoOf(kind).name('x').slice(1);
  return suffix && childName.endsWith(suffix) ? childName.slice(0, -suffix.length) : childName;
}

export class ChildSightings {
  /** The kinds of child a burst CR has. */
  readonly kinds = childKinds.filter((kind) => isWanted(kind, burstSpec()));
  readonly kindAt = new Map<ChildKind, Map<string, number>>(this.kinds.map((kind) => [kind, new Map()]));
  /** When all of a CR's children were first there. */
  readonly childrenAt = new Map<string, number>();

  saw(kind: ChildKind, childName: string, now = Date.now()): string {
    const cr = crOf(kind, childName);
    const kindAt = this.kindAt.get(kind);
    if (kindAt && !kindAt.has(cr)) kindAt.set(cr, now);
    if (!this.childrenAt.has(cr) && this.kinds.every((each) => this.kindAt.get(each)!.has(cr))) this.childrenAt.set(cr, now);
    return cr;
  }
}
