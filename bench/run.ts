// npm run bench: measures the system on the local control plane (or TEST_KUBECONFIG's cluster),
// prints a table and writes the figures to bench-results/latest.json. Timing goals live here,
// never in tests. BENCH_SCALE=small runs a quicker, smaller pass.
import { mkdirSync, writeFileSync } from 'node:fs';
import { down, runningCluster, up } from '../infra/local/cluster/index.js';
import { installCrd } from '../infra/local/crd.js';
import { functionsKubeconfig, installReconcilerAccess } from '../infra/local/reconciler-access.js';
import { benchBundle } from './bundle.js';
import { benchCeilings } from './ceilings.js';
import { benchEndToEnd } from './e2e.js';
import { benchForwarder } from './forwarder.js';
import { benchHops, npmStartForwarder } from './hops.js';
import { benchReconcile } from './reconcile.js';
import { benchResync } from './resync.js';
import { benchThaw } from './thaw.js';

const small = process.env.BENCH_SCALE === 'small';
const external = process.env.TEST_KUBECONFIG;

// The functions the end-to-end section runs act as their own identity, under infra/reconciler.
const asFunctions = () => functionsKubeconfig(external) ?? (external as string);
const sections: Array<[string, (kubeconfig: string) => Promise<Record<string, number>>]> = [
  ['bundle', () => benchBundle()],
  // A loopback server of its own: what a thawed invocation pays for a connection that died frozen.
  ['thaw', () => benchThaw(small ? 5 : 20)],
  ['reconcile', (kubeconfig) => benchReconcile(kubeconfig, small ? 50 : 200)],
  ['ceilings', (kubeconfig) => benchCeilings(kubeconfig, small ? 200 : 1000)],
  // One CR at a time through npm start's stack (the forwarder in pods on the real node), hop by hop.
  ['one cr', (kubeconfig) => benchHops(kubeconfig, asFunctions(), { crs: small ? 10 : 30, forwarderPods: external ? undefined : npmStartForwarder() })],
  ['end to end', (kubeconfig) => benchEndToEnd(kubeconfig, asFunctions(), small ? { steadyCrs: 30, ratePerSecond: 5, burstCrs: 100 } : { steadyCrs: 300, ratePerSecond: 5, burstCrs: 1000 })],
  // After the latency sections, so that they do not inherit the 40,000 objects it creates and
  // deletes: the burst took 124 s right after it on a long-used cluster, 69 s on a fresh one.
  ['resync', (kubeconfig) => benchResync(kubeconfig, small ? 1000 : 10_000)],
];
// The forwarder's benchmark starts its own processes against the local control plane only.
if (!external) sections.push(['forwarder', () => benchForwarder(small ? { crs: 1000, changes: 200 } : {})]);

// BENCH_ONLY=ceilings,forwarder runs just those sections.
const only = process.env.BENCH_ONLY?.split(',').map((name) => name.trim());
const unknown = only?.filter((name) => !sections.some(([section]) => section === name));
if (unknown?.length) {
  console.error(`BENCH_ONLY: no section ${unknown.map((name) => `"${name}"`).join(', ')}; the sections are ${sections.map(([name]) => `"${name}"`).join(', ')}`);
  process.exit(2);
}
const chosen = only ? sections.filter(([name]) => only.includes(name)) : sections;

const startedHere = !external && !runningCluster();
const kubeconfig = external ?? (await up((line) => console.error(`[cluster] ${line}`))).kubeconfig;
const figures: Record<string, number> = {};
try {
  // Every section but the bundle's needs the CRD; a fresh cluster has none.
  await installCrd(kubeconfig);
  await installReconcilerAccess(kubeconfig, asFunctions() === kubeconfig ? undefined : asFunctions());
  for (const [name, run] of chosen) {
    console.error(`running ${name} ...`);
    Object.assign(figures, await run(kubeconfig));
  }
  // Before the teardown, which can fail on its own without taking the figures with it.
  const width = Math.max(...Object.keys(figures).map((k) => k.length));
  console.log(Object.entries(figures).map(([key, value]) => `${key.padEnd(width)}  ${value}`).join('\n'));
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/latest.json', JSON.stringify({ date: new Date().toISOString(), node: process.version, scale: small ? 'small' : 'full', sections: chosen.map(([name]) => name), figures }, null, 2));
  console.log('\nwritten to bench-results/latest.json');
} finally {
  if (startedHere) await down();
}
