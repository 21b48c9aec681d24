// The images built without Docker and the Dockerfiles users build agree: the same entry point,
// user, ports, environment and working directory, and the same esbuild bundles in the same places.
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../cluster/layout.js';
import { images } from './specs.js';

interface DockerBundle {
  entry: string;
  flags: Map<string, string | true>;
  /** Where the bundle lands in the final image. */
  path?: string;
}

interface DockerfileFacts {
  env: string[];
  user?: string;
  expose: string[];
  entrypoint?: string[];
  workdir?: string;
  bundles: DockerBundle[];
}

/** The instructions, continuation lines joined and comments dropped. */
function instructions(text: string): [string, string][] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => line.trim() && !line.trim().startsWith('#'))
    .map((line) => {
      const [, keyword, rest] = /^\s*(\S+)\s+(.*)$/.exec(line)!;
      return [keyword!.toUpperCase(), rest!.trim()];
    });
}

/** `npx esbuild <entry> --flag --key=value --banner:js="…"`, however many per RUN. */
function esbuildCommands(run: string): DockerBundle[] {
  return run
    .split('&&')
    .map((command) => command.trim())
    .filter((command) => command.startsWith('npx esbuild '))
    .map((command) => {
      const tokens = (command.match(/(?:[^\s"]+|"[^"]*")+/g) ?? []).slice(2).map((t) => t.replace(/"/g, ''));
      const flags = new Map<string, string | true>();
      for (const token of tokens.slice(1)) {
        const at = token.indexOf('=');
        flags.set(at < 0 ? token : token.slice(0, at), at < 0 ? true : token.slice(at + 1));
      }
      return { entry: tokens[0]!, flags };
    });
}

function readDockerfile(path: string): DockerfileFacts {
  const facts: DockerfileFacts = { env: [], expose: [], bundles: [] };
  const copies: [string, string][] = [];
  let final = false;
  for (const [keyword, rest] of instructions(readFileSync(join(repoRoot, path), 'utf8'))) {
    if (keyword === 'FROM') final = !/\sAS\s/i.test(rest);
    else if (keyword === 'RUN' && !final) facts.bundles.push(...esbuildCommands(rest));
    else if (!final) continue;
    else if (keyword === 'ENV') facts.env.push(...rest.split(/\s+/));
    else if (keyword === 'USER') facts.user = rest;
    else if (keyword === 'EXPOSE') facts.expose.push(...rest.split(/\s+/).map((port) => (port.includes('/') ? port : `${port}/tcp`)));
    else if (keyword === 'ENTRYPOINT') facts.entrypoint = JSON.parse(rest);
    else if (keyword === 'WORKDIR') facts.workdir = rest;
    else if (keyword === 'COPY' && rest.startsWith('--from=build ')) copies.push(rest.split(/\s+/).slice(1) as [string, string]);
  }
  for (const bundle of facts.bundles) {
    const outfile = bundle.flags.get('--outfile') as string;
    const copy = copies.find(([source]) => outfile.startsWith(source));
    if (copy) bundle.path = posix.join(posix.resolve(facts.workdir ?? '/', copy[1]), outfile.slice(copy[0].length));
  }
  return facts;
}

describe.each(images.map((spec) => [spec.name, spec] as const))('the %s image', (_name, spec) => {
  const dockerfile = readDockerfile(spec.dockerfile);

  it('has the entry point, user, ports and working directory of its Dockerfile', () => {
    expect(spec.config.entrypoint).toEqual(dockerfile.entrypoint);
    expect(spec.config.user).toBe(dockerfile.user);
    expect(spec.config.exposedPorts).toEqual(dockerfile.expose);
    expect(spec.config.workingDir).toBe(dockerfile.workdir);
  });

  it("has its Dockerfile's environment, and a PATH on which the entry point finds node as in the node image", () => {
    expect(spec.config.env.filter((entry) => !entry.startsWith('PATH='))).toEqual(dockerfile.env);
    expect(spec.config.env.find((entry) => entry.startsWith('PATH='))).toContain('/usr/local/bin');
  });

  it('bundles what its Dockerfile bundles, with the same esbuild settings, to the same paths', () => {
    expect(dockerfile.bundles.map((b) => b.entry)).toEqual(spec.bundles.map((b) => b.entry));
    for (const bundle of spec.bundles) {
      const built = dockerfile.bundles.find((b) => b.entry === bundle.entry)!;
      expect(built.path).toBe(bundle.path);
      expect(Object.fromEntries(built.flags)).toEqual({
        '--bundle': true,
        '--platform': 'node',
        '--target': 'node22',
        '--format': bundle.format,
        '--outfile': built.flags.get('--outfile'),
        ...(bundle.sourcemap ? { '--sourcemap': true } : {}),
        ...(bundle.banner ? { '--banner:js': bundle.banner } : {}),
      });
    }
  });
});
