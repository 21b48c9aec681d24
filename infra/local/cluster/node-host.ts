// What the real node takes from the host, and gives back on teardown: a network namespace joined
// to the host by a veth pair, and a cgroup subtree in every hierarchy. Everything of the node runs
// inside both (containerd, kubelet, kube-proxy, CoreDNS, the runc shims, the containers), so its
// bridge, iptables rules, pod addresses and mounts are its own, two clusters on one machine do not
// meet, and teardown is exact: kill whatever the subtree holds, remove it, delete the namespace
// (which takes the veth pair, the bridge, the rules and the host's route with it).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const cgroupMount = '/sys/fs/cgroup';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The addresses and names of one cluster's node; `index` keeps them apart from other clusters'. */
export interface NodeHost {
  index: number;
  netns: string;
  /** The host's end of the veth pair; the node's end is `eth0` inside the namespace. */
  hostInterface: string;
  /** The host's address on the pair: the apiserver listens there, pods reach it there. */
  hostIp: string;
  /** The node's address: its InternalIP, where the kubelet, CoreDNS and kube-proxy's health listen. */
  nodeIp: string;
  podCidr: string;
  /** The node's cgroup, the kubelet's --cgroup-root: the same path in every hierarchy. */
  cgroup: string;
  /** The cgroup folders made for it, deepest last, so teardown removes exactly those. */
  createdCgroups: string[];
  /**
   * Identities of what was made (inode of the namespace's file and of the node's cgroup folders,
   * index of the host's interface): names are reused once freed, and a teardown from a stale
   * record must not touch another cluster's node that took them.
   */
  identity: { netns: number; cgroup: number; hostInterface: number };
}

export const serviceCidr = '10.96.0.0/16';

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** The cgroup hierarchies' mount points: one per v1 controller (and a v2 one), or the unified v2 one. */
const hierarchies = () =>
  existsSync(join(cgroupMount, 'cgroup.procs'))
    ? [cgroupMount]
    : readdirSync(cgroupMount).map((name) => join(cgroupMount, name)).filter((dir) => existsSync(join(dir, 'cgroup.procs')));

/** This process's cgroup in the memory hierarchy: the node nests inside whatever limits memory here. */
function ownMemoryCgroup(): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => /^\d+:memory:/.test(l));
  return line ? line.split(':')[2]! : '/';
}

/** Makes the namespace, the veth pair and the route to the pods, on the first free index. */
export function createNodeHost(): NodeHost {
  for (let index = 1; index < 250; index++) {
    const netns = `stimulated-peering-node-${index}`;
    const hostInterface = `spnode${index}`;
    const cgroup = join(ownMemoryCgroup(), netns);
    if (existsSync(`/run/netns/${netns}`) || existsSync(`/sys/class/net/${hostInterface}`) || cgroupExists(cgroup)) continue;
    try {
      ip(['netns', 'add', netns]);
    } catch {
      continue; // another cluster took it meanwhile
    }
    const host: NodeHost = {
      index,
      netns,
      hostInterface,
      hostIp: `10.201.${index}.1`,
      nodeIp: `10.201.${index}.2`,
      podCidr: `10.202.${index}.0/24`,
      cgroup,
      createdCgroups: [],
      identity: { netns: statSync(`/run/netns/${netns}`).ino, cgroup: 0, hostInterface: 0 },
    };
    try {
      ip(['link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
      ip(['addr', 'add', `${host.hostIp}/30`, 'dev', hostInterface]);
      ip(['link', 'set', hostInterface, 'up']);
      ip(['-n', netns, 'addr', 'add', `${host.nodeIp}/30`, 'dev', 'eth0']);
      ip(['-n', netns, 'link', 'set', 'eth0', 'up']);
      ip(['-n', netns, 'link', 'set', 'lo', 'up']);
      // No default route: nothing from the node or its pods can leave the machine. Service addresses
      // need a route for kube-proxy's DNAT to apply to the node's own traffic; unanswered on the
      // link, whatever it does not rewrite goes nowhere.
      ip(['-n', netns, 'route', 'add', serviceCidr, 'dev', 'eth0']);
      // The host reaches pods directly (tests, the apiserver's port-forward): a route through the node.
      ip(['route', 'add', host.podCidr, 'via', host.nodeIp, 'dev', hostInterface]);
      execFileSync('ip', ['netns', 'exec', netns, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward; echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables']);
    } catch (error) {
      // Half made: take back what was made (the namespace takes the pair and the route with it).
      ip(['netns', 'del', netns]);
      throw error;
    }
    host.identity.hostInterface = interfaceIndex(hostInterface);
    host.createdCgroups = createCgroups(host.cgroup);
    host.identity.cgroup = cgroupInode(host.cgroup);
    return host;
  }
  throw new Error('no free index for the node network namespace (1 to 249 all taken)');
}

const interfaceIndex = (name: string) => Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'));
const cgroupExists = (path: string) => hierarchies().some((hierarchy) => existsSync(join(hierarchy, path)));
/** The inode of the node's cgroup folder in the first hierarchy, or 0 when there is none. */
const cgroupInode = (path: string) => {
  const dir = join(hierarchies()[0]!, path);
  return existsSync(dir) ? statSync(dir).ino : 0;
};

function createCgroups(path: string): string[] {
  const created: string[] = [];
  for (const hierarchy of hierarchies()) {
    const parts = path.split('/').filter(Boolean);
    for (let depth = 1; depth <= parts.length; depth++) {
      const dir = join(hierarchy, ...parts.slice(0, depth));
      if (existsSync(dir)) continue;
      mkdirSync(dir);
      created.push(dir);
      // A new cpuset has no CPUs or memory nodes until given its parent's.
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        if (existsSync(join(dir, file))) writeFileSync(join(dir, file), readFileSync(join(dirname(dir), file)));
      }
    }
  }
  return created;
}

/** Moves a process into the node's cgroup in every hierarchy; what it starts later stays there. */
export function joinNodeCgroup(host: NodeHost, pid: number): void {
  for (const hierarchy of hierarchies()) {
    const dir = join(hierarchy, host.cgroup);
    if (existsSync(dir)) writeFileSync(join(dir, 'cgroup.procs'), String(pid));
  }
}

/** Every process in the node's cgroup subtree, in any hierarchy. */
function nodeProcesses(host: NodeHost): number[] {
  const pids = new Set<number>();
  const visit = (dir: string) => {
    for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (line) pids.add(Number(line));
    for (const entry of readdirSync(dir)) if (statSync(join(dir, entry)).isDirectory()) visit(join(dir, entry));
  };
  for (const hierarchy of hierarchies()) {
    const dir = join(hierarchy, host.cgroup);
    if (existsSync(dir)) visit(dir);
  }
  return [...pids];
}

/** Every cgroup folder of the subtree, deepest first. */
function nodeCgroups(host: NodeHost): string[] {
  const dirs: string[] = [];
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir)) if (statSync(join(dir, entry)).isDirectory()) visit(join(dir, entry));
    dirs.push(dir);
  };
  for (const hierarchy of hierarchies()) if (existsSync(join(hierarchy, host.cgroup))) visit(join(hierarchy, host.cgroup));
  return dirs;
}

async function killNodeProcesses(host: NodeHost): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const pids = nodeProcesses(host);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await sleep(100);
  }
  throw new Error(`processes ${nodeProcesses(host).join(', ')} of the node's cgroup ${host.cgroup} survived SIGKILL`);
}

function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // gone already, or holding another cluster's cgroup
  }
}

async function removeCgroup(dir: string): Promise<void> {
  for (let attempt = 0; existsSync(dir) && attempt < 50; attempt++) {
    try {
      rmdirSync(dir);
    } catch {
      await sleep(100); // the kernel frees a cgroup a moment after its last process
    }
  }
}

/**
 * Kills every process of the node (containers, shims, and any node component still running), then
 * removes its cgroups and its network namespace. The mounts the kubelet and containerd made live in
 * the node's mount namespace and go with its last process.
 */
export async function destroyNodeHost(host: NodeHost): Promise<void> {
  if (host.identity && cgroupInode(host.cgroup) === host.identity.cgroup) {
    await killNodeProcesses(host);
    for (const dir of nodeCgroups(host)) await removeCgroup(dir);
    // The parents made for it go too, unless another cluster's node is in them.
    for (const dir of [...host.createdCgroups].reverse()) removeIfEmpty(dir);
  }
  const netns = `/run/netns/${host.netns}`;
  if (isSame(netns, () => statSync(netns).ino, host.identity?.netns)) ip(['netns', 'del', host.netns]);
  // The pair goes with the namespace; this is for a namespace someone deleted without it.
  const link = `/sys/class/net/${host.hostInterface}`;
  if (isSame(link, () => interfaceIndex(host.hostInterface), host.identity?.hostInterface)) deleteLink(host.hostInterface);
}

function deleteLink(name: string): void {
  try {
    ip(['link', 'del', name]);
  } catch (error) {
    // The namespace's deletion takes the pair away in the background: gone meanwhile is fine.
    if (existsSync(`/sys/class/net/${name}`)) throw error;
  }
}

/**
 * Whether `path` exists and is still the thing recorded as `recorded`. One that vanishes as it is
 * read is not: the namespace's deletion unregisters the host's end of the pair in the background,
 * and sysfs answers EINVAL for a device no longer alive (ENOENT once its folder is gone).
 */
function isSame(path: string, identity: () => number, recorded: number | undefined): boolean {
  if (!existsSync(path)) return false;
  try {
    return identity() === recorded;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EINVAL' || code === 'ENOENT' || code === 'ENODEV') return false;
    throw error;
  }
}
