// The functions as Lambda runs them: bundled with serverless.yml's own esbuild settings (split into
// a handler and chunks that only some access modes load), their sizes, and how long a fresh Node
// process takes to load the handler with the settings of an EKS deployment (module
// initialisation, the part of a cold start the code controls). An EKS deployment's first
// invocation also loads the chunk that signs its tokens; that is measured too.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type BuildOptions } from 'esbuild';
import { load } from 'js-yaml';
import { percentile, round } from './stats.js';

interface EsbuildSettings extends BuildOptions {
  outputFileExtension?: string;
  exclude?: string[];
}

const eksSettings = {
  CLUSTER_ACCESS: 'eks',
  EKS_CLUSTER_NAME: 'bench',
  EKS_CLUSTER_ENDPOINT: 'https://bench.example.eks.amazonaws.com',
  EKS_CLUSTER_CA: Buffer.from('not a certificate').toString('base64'),
  AWS_REGION: 'eu-west-1',
};

/** serverless.yml's custom.esbuild, as serverless-esbuild hands it to esbuild. */
function serverlessEsbuild(): BuildOptions {
  const { custom } = load(readFileSync('serverless.yml', 'utf8')) as { custom: { esbuild: EsbuildSettings } };
  const { outputFileExtension = '.js', exclude: _exclude, ...options } = custom.esbuild;
  return { ...options, outExtension: { '.js': outputFileExtension } };
}

/** Milliseconds to import `file` in a fresh process, `runs` times. */
function importTimes(file: string, runs: number): number[] {
  const probe = `${file}.probe.mjs`;
  writeFileSync(probe, `const t = performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now() - t);`);
  return Array.from({ length: runs }, () => Number(execFileSync(process.execPath, [probe], { encoding: 'utf8', env: { PATH: process.env.PATH, ...eksSettings } })));
}

export async function benchBundle(runs = 21): Promise<Record<string, number>> {
  const figures: Record<string, number> = {};
  for (const fn of ['reconcile', 'resync']) {
    const outdir = mkdtempSync(join(tmpdir(), `bench-bundle-${fn}-`));
    await build({ ...serverlessEsbuild(), entryPoints: [`functions/${fn}/handler.ts`], outdir, logLevel: 'silent' });
    const code = readdirSync(outdir).filter((file) => file.endsWith('.mjs'));
    const handler = join(outdir, 'handler.mjs');
    const kib = (files: string[]) => round(files.reduce((sum, file) => sum + statSync(join(outdir, file)).size, 0) / 1024);
    figures[`bundle.${fn}.handler_kib`] = kib(['handler.mjs']);
    figures[`bundle.${fn}.all_chunks_kib`] = kib(code);
    const init = importTimes(handler, runs);
    figures[`bundle.${fn}.init_p50_ms`] = round(percentile(init, 50));
    figures[`bundle.${fn}.init_p95_ms`] = round(percentile(init, 95));
    const tokenChunk = code.find((file) => file.startsWith('eks-token-'));
    if (fn === 'reconcile' && tokenChunk) figures['bundle.reconcile.eks_token_chunk_load_p50_ms'] = round(percentile(importTimes(join(outdir, tokenChunk), runs), 50));
  }
  return figures;
}
