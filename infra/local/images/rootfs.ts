// Assembles an image's root filesystem in a folder, without Docker or a base image: the esbuild
// bundles (specs.ts), the Node.js binary `npm run` uses (the npm `node` package), the shared
// libraries it links against taken from this host (`ldd`, the glibc loader included), and a
// minimal /etc (the image's user, NSS) and /tmp. Nothing is downloaded. The folder and the image
// configuration are what the image tool turns into an OCI image.
//
// No CA bundle: Node.js verifies TLS with the root certificates compiled into it, and the
// forwarder's connection to the apiserver uses the service account's ca.crt explicitly.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { repoRoot } from '../cluster/layout.js';
import { nodePath, type Bundle, type ImageConfig, type ImageSpec } from './specs.js';

/** What the image tool needs to make and load an image. */
export interface ImageSource {
  reference: string;
  /** The root filesystem's folder. */
  rootfs: string;
  config: ImageConfig;
  /** A digest of the configuration and of every path, mode and content of the rootfs: the same inputs, the same key. */
  contentKey: string;
}

/** The Node.js binary of the npm `node` package, as `npm run` finds it. */
export const nodeBinary = () => realpathSync(join(repoRoot, 'node_modules/node/bin/node'));

/** The libraries `ldd` says a binary loads, as the paths the loader looks them up by. */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)('ldd', [binary]);
  const paths: string[] = [];
  for (const line of stdout.split('\n')) {
    // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` or `/lib64/ld-linux-x86-64.so.2 (0x…)`;
    // the vDSO has no file.
    const path = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line)?.[1];
    if (path) paths.push(path);
  }
  if (!paths.some((path) => path.includes('ld-linux'))) throw new Error(`ldd named no loader for ${binary}:\n${stdout}`);
  return paths;
}

/** Copies a host file to the same path in the rootfs, as a regular file (symlinks followed). */
function copyIn(rootfs: string, hostPath: string, path: string, mode: number): void {
  const target = join(rootfs, path);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(realpathSync(hostPath), target);
  chmodSync(target, mode);
}

async function bundle(rootfs: string, item: Bundle): Promise<void> {
  const outfile = join(rootfs, item.path);
  await build({
    absWorkingDir: repoRoot,
    entryPoints: [item.entry],
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: item.format,
    outfile,
    sourcemap: item.sourcemap,
    banner: item.banner ? { js: item.banner } : undefined,
    logLevel: 'warning',
  });
  chmodSync(outfile, item.mode);
}

function writeEtc(rootfs: string, user: ImageSpec['user']): void {
  const etc = join(rootfs, 'etc');
  mkdirSync(etc, { recursive: true });
  // Home is /tmp: the only place a read-only root filesystem leaves writable (an emptyDir).
  writeFileSync(join(etc, 'passwd'), `root:x:0:0:root:/root:/sbin/nologin\n${user.name}:x:${user.uid}:${user.gid}:${user.name}:/tmp:/sbin/nologin\n`);
  writeFileSync(join(etc, 'group'), `root:x:0:\n${user.name}:x:${user.gid}:\n`);
  // glibc's getaddrinfo (Node's dns.lookup): the pod's /etc/hosts first, then its resolv.conf.
  writeFileSync(join(etc, 'nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');
  // kubelet mounts the pod's own over it; this one serves a run without a pod (chroot).
  writeFileSync(join(etc, 'hosts'), '127.0.0.1 localhost\n::1 localhost\n');
}

/** Hashes the configuration and the tree: each path, its mode and its content, in path order. */
export function contentKey(rootfs: string, config: ImageConfig): string {
  const hash = createHash('sha256').update(JSON.stringify(config));
  const walk = (relative: string) => {
    for (const name of readdirSync(join(rootfs, relative)).sort()) {
      const path = join(relative, name);
      const status = lstatSync(join(rootfs, path));
      hash.update(`\0${path}\0${status.mode}\0`);
      if (status.isDirectory()) walk(path);
      else hash.update(readFileSync(join(rootfs, path)));
    }
  };
  walk('');
  return hash.digest('hex');
}

/** Writes `spec`'s root filesystem into `rootfs` (emptied first) and returns what the image tool needs. */
export async function assembleRootfs(spec: ImageSpec, rootfs: string): Promise<ImageSource> {
  rmSync(rootfs, { recursive: true, force: true });
  mkdirSync(rootfs, { recursive: true });
  for (const item of spec.bundles) await bundle(rootfs, item);
  const node = nodeBinary();
  copyIn(rootfs, node, nodePath, 0o755);
  for (const library of await sharedLibraries(node)) copyIn(rootfs, library, library, 0o755);
  writeEtc(rootfs, spec.user);
  for (const dir of ['tmp', 'app', 'proc', 'sys', 'dev']) mkdirSync(join(rootfs, dir), { recursive: true });
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  return { reference: spec.reference, rootfs, config: spec.config, contentKey: contentKey(rootfs, spec.config) };
}
