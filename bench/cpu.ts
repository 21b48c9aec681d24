// Where a phase's CPU went, process by process, from /proc: the control plane's components, the
// node's, the operator's (the functions' osls offline, the forwarder) and this benchmark. Each
// figure is the CPU seconds a component's processes used between two snapshots; a process that
// exited in between is not counted (its time went to a parent that may not reap it).
import { readdirSync, readFileSync } from 'node:fs';
import { round } from './stats.js';

/** Component names, first match of a process's command line wins. */
const components: Array<[string, RegExp]> = [
  ['etcd', /(^|\/)etcd( |$)/],
  ['apiserver', /kube-apiserver/],
  ['controller_manager', /kube-controller-manager/],
  ['scheduler', /kube-scheduler/],
  ['kwok', /(^|\/)kwok( |$)/],
  ['kubelet', /(^|\/)kubelet( |$)/],
  ['containerd', /containerd/],
  // The stack's `kubectl logs -f` of the forwarder pods, before the pods' own pattern.
  ['kubectl', /(^|\/)kubectl /],
  ['functions', /osls|serverless|lambda/],
  ['forwarder', /forwarder/],
];

const TICKS_PER_SECOND = 100;

function processes(): Array<{ pid: number; command: string; ticks: number }> {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      // The command (field 2) may hold spaces; utime and stime are fields 14 and 15.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      found.push({ pid: Number(entry), command, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // It exited while we read it.
    }
  }
  return found;
}

function componentOf(pid: number, command: string): string {
  if (pid === process.pid) return 'bench';
  return components.find(([, pattern]) => pattern.test(command))?.[0] ?? 'other';
}

/** CPU ticks per process, to compare with a later one. */
export class CpuSnapshot {
  private readonly ticks = new Map<number, { component: string; ticks: number }>();

  constructor() {
    for (const { pid, command, ticks } of processes()) this.ticks.set(pid, { component: componentOf(pid, command), ticks });
  }

  /** CPU seconds per component from `earlier` to this snapshot, as `<prefix>.<component>` figures, and their total. */
  since(earlier: CpuSnapshot, prefix: string): Record<string, number> {
    const seconds = new Map<string, number>();
    for (const [pid, { component, ticks }] of this.ticks) {
      const before = earlier.ticks.get(pid);
      // A process started in between, or under a pid another had (its ticks start again at 0).
      const used = before && before.component === component && before.ticks <= ticks ? ticks - before.ticks : ticks;
      seconds.set(component, (seconds.get(component) ?? 0) + used / TICKS_PER_SECOND);
    }
    const total = [...seconds.values()].reduce((sum, s) => sum + s, 0);
    return { ...Object.fromEntries([...seconds].filter(([, s]) => s > 0).map(([component, s]) => [`${prefix}.${component}`, round(s)])), [`${prefix}.total`]: round(total) };
  }
}
