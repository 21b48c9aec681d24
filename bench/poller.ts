// A client outside the system watching a namespace as a user's script would: it lists what is
// there at an interval (kubectl's table view, so each poll is small) and notes when each CR's
// children were first all there, when each Deployment was first ready, and when each CR was first
// Ready. A moment it gives is up to one interval (plus a list's time) after the apiserver's, so
// its per-CR latencies are those of a watch plus about half an interval on average: what the
// figures of issue 23 were measured with (250 ms).
import { childKindInfo, collectionPath, type ChildKind } from '../functions/core/children.js';
import { GROUP, PLURAL, VERSION } from '../functions/core/kindcustomhttp.js';
import type { KubeClient } from '../functions/core/kube-client.js';
import { ChildSightings } from './sightings.js';

/** For one CR at a time: a latency of 100 ms cannot be seen through a coarser one. */
export const POLL_INTERVAL_MS = 250;
/**
 * For 1,000 CRs: each poll lists five kinds of 1,000 objects, and at 250 ms those lists were 8 %
 * of the API server's CPU through a burst (its profile), CPU the burst then lacked. At 1 s a
 * figure is late by at most a second (2 % of the fastest floor measured, 47 s), the floor's as
 * much as the burst's.
 */
export const BULK_POLL_INTERVAL_MS = 1000;
const TABLE = 'application/json;as=Table;g=meta.k8s.io;v=v1';

interface Table {
  columnDefinitions: Array<{ name: string }>;
  rows: Array<{ cells: unknown[] }>;
}

/** Each row's name and the cell of `column`. */
function cellsOf(table: Table, column: string): Array<[string, unknown]> {
  const index = table.columnDefinitions.findIndex((definition) => definition.name === column);
  return table.rows.map((row) => [String(row.cells[0]), index < 0 ? undefined : row.cells[index]]);
}

/** A Deployment's Ready cell, `ready/desired`, says all are. */
function allReady(cell: unknown): boolean {
  const [ready, desired] = String(cell ?? '').split('/');
  return desired !== undefined && ready === desired;
}

export class Poller {
  readonly sightings = new ChildSightings();
  readonly childrenAt = this.sightings.childrenAt;
  readonly kindAt = this.sightings.kindAt;
  readonly deploymentReadyAt = new Map<string, number>();
  readonly readyAt = new Map<string, number>();
  polls = 0;
  failedPolls = 0;
  private stopped = false;
  private loop?: Promise<void>;

  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    /** Whether there are CRs to poll (not for the control plane's floor). */
    private readonly withCrs: boolean,
    private readonly intervalMs = POLL_INTERVAL_MS,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      // A poll that fails (a timeout on a busy apiserver) is counted and the next one goes on.
      await Promise.all([...this.sightings.kinds.map((kind) => this.pollKind(kind)), this.withCrs ? this.pollCrs() : undefined]).then(
        () => this.polls++,
        () => this.failedPolls++,
      );
      await new Promise((resolve) => setTimeout(resolve, this.intervalMs));
    }
  }

  private list(path: string): Promise<Table> {
    return this.client.request<Table>(path, { accept: TABLE, query: { includeObject: 'None' } });
  }

  private async pollKind(kind: ChildKind): Promise<void> {
    const table = await this.list(collectionPath(childKindInfo[kind], this.namespace));
    const now = Date.now();
    for (const [name, ready] of cellsOf(table, 'Ready')) {
      const cr = this.sightings.saw(kind, name, now);
      if (kind === 'Deployment' && allReady(ready) && !this.deploymentReadyAt.has(cr)) this.deploymentReadyAt.set(cr, now);
    }
  }

  private async pollCrs(): Promise<void> {
    const table = await this.list(`/apis/${GROUP}/${VERSION}/namespaces/${this.namespace}/${PLURAL}`);
    const now = Date.now();
    for (const [name, ready] of cellsOf(table, 'Ready')) if (ready === 'True' && !this.readyAt.has(name)) this.readyAt.set(name, now);
  }

  async waitFor(moments: Map<string, number>, names: string[], timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (names.some((name) => !moments.has(name))) {
      if (Date.now() > deadline) throw new Error(`${names.filter((name) => !moments.has(name)).length} not ${what} after ${timeoutMs / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
