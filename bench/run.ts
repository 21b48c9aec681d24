// npm run bench: measures the system on the local control plane, prints a table and writes the
// figures to bench-results/ as JSON. Timing goals live here, never in tests.
import { mkdirSync, writeFileSync } from 'node:fs';
import { down, runningCluster, up } from '../test/cluster/cluster.js';
import { benchBundle } from './bundle.js';
import { benchReconcile } from './reconcile.js';

const sections: Array<[string, (kubeconfig: string) => Promise<Record<string, number>>]> = [
  ['bundle', () => benchBundle()],
  ['reconcile', (kubeconfig) => benchReconcile(kubeconfig, Number(process.env.BENCH_CRS ?? 200))],
];

const external = process.env.TEST_KUBECONFIG;
const startedHere = !external && !runningCluster();
const kubeconfig = external ?? (await up((line) => console.error(`[cluster] ${line}`))).kubeconfig;
const figures: Record<string, number> = {};
try {
  for (const [name, run] of sections) {
    console.error(`running ${name} ...`);
    Object.assign(figures, await run(kubeconfig));
  }
} finally {
  if (startedHere) await down();
}

const width = Math.max(...Object.keys(figures).map((k) => k.length));
console.log(Object.entries(figures).map(([key, value]) => `${key.padEnd(width)}  ${value}`).join('\n'));
mkdirSync('bench-results', { recursive: true });
const record = { date: new Date().toISOString(), node: process.version, figures };
writeFileSync('bench-results/latest.json', JSON.stringify(record, null, 2));
console.log('\nwritten to bench-results/latest.json');
