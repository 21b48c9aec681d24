// The reconcile function as Lambda runs it: its bundle's size, and how long a fresh Node process
// takes to load it (module initialisation, the part of a cold start the code controls).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { percentile, round } from './stats.js';

/** `kubeconfig`: the functions read their settings when their module loads, so the probe needs valid ones. */
export async function benchBundle(kubeconfig: string, runs = 15): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-bundle-'));
  const figures: Record<string, number> = {};
  for (const fn of ['reconcile', 'resync']) {
    const outfile = join(dir, `${fn}.mjs`);
    await build({
      entryPoints: [`functions/${fn}/handler.ts`],
      bundle: true,
      minify: true,
      platform: 'node',
      target: 'node22',
      format: 'esm',
      outfile,
      // Lets bundled CommonJS dependencies call require() from an ES module.
      banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
      logLevel: 'silent',
    });
    figures[`bundle.${fn}.kib`] = round(statSync(outfile).size / 1024);
    const probe = join(dir, `probe-${fn}.mjs`);
    writeFileSync(probe, `const t = performance.now(); await import(${JSON.stringify(outfile)}); console.log(performance.now() - t);`);
    const samples = Array.from({ length: runs }, () => Number(execFileSync(process.execPath, [probe], { encoding: 'utf8', env: { ...process.env, CLUSTER_ACCESS: 'kubeconfig', KUBECONFIG: kubeconfig } })));
    figures[`bundle.${fn}.init_p50_ms`] = round(percentile(samples, 50));
    figures[`bundle.${fn}.init_p95_ms`] = round(percentile(samples, 95));
  }
  return figures;
}
