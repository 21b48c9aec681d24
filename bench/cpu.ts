// Where a phase's CPU went, process by process, from /proc: the control plane's components, the
// node's, the operator's (the functions' osls offline, the forwarder) and this benchmark. Each
// figure is the CPU seconds a component's processes used between two snapshots; a process that
// exited in between is not counted (its time went to a parent that may not reap it).
import { readdirSync, readFileSync } from 'node:fs';
import { round } from './stats.js';

/**
 * The component a process belongs to, from its program (the local control plane's components are
 * one binary, `controlplane <component>`) and, for Node.js processes, what they run.
 */
function componentOf(pid: number, argv: string[]): string {
  if (pid === process.pid) return 'bench';
  const program = argv[0]!.split('/').at(-1)!;
  const name = program === 'controlplane' ? argv[1]! : program;
  if (program === 'node') return nodeScripts.find(([, pattern]) => pattern.test(argv.join(' ')))?.[0] ?? 'other';
  return knownPrograms[name.replace(/^containerd.*/, 'containerd')] ?? 'other';
}

/** What a Node.js process runs: the functions under osls offline, the forwarder, the peer server. */
const nodeScripts: Array<[string, RegExp]> = [
  ['functions', /osls|serverless/],
  ['forwarder', /forwarder/],
  ['peer_servers', /peer-server/],
];

const knownPrograms: Record<string, string> = {
  etcd: 'etcd',
  'kube-apiserver': 'apiserver',
  'kube-controller-manager': 'controller_manager',
  'kube-scheduler': 'scheduler',
  'kube-proxy': 'kube_proxy',
  kubelet: 'kubelet',
  kwok: 'kwok',
  coredns: 'coredns',
  containerd: 'containerd',
  runc: 'containerd',
  // The stack's `kubectl logs -f` of the forwarder pods.
  kubectl: 'kubectl',
};

const TICKS_PER_SECOND = 100;

function processes(): Array<{ pid: number; argv: string[]; ticks: number }> {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      // The command (field 2) may hold spaces; utime and stime are fields 14 and 15.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      found.push({ pid: Number(entry), argv, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // It exited while we read it.
    }
  }
  return found;
}

/** CPU ticks per process, to compare with a later one. */
export class CpuSnapshot {
  private readonly ticks = new Map<number, { component: string; ticks: number }>();

  constructor() {
    for (const { pid, argv, ticks } of processes()) this.ticks.set(pid, { component: componentOf(pid, argv), ticks });
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
