// The assembled root filesystems run: their Node.js binary, with the libraries copied from this
// host, under chroot as the image's user with only the image's environment (root is needed for
// chroot; the real node runs these images the same way, through runc).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../cluster/layout.js';
import { assembleRootfs, contentKey, nodeBinary, sharedLibraries, type ImageSource } from './rootfs.js';
import { forwarderImage, nodePath, peerServerImage } from './specs.js';

const dir = mkdtempSync(join(tmpdir(), 'rootfs-'));
let peer: ImageSource;
let forwarder: ImageSource;

beforeAll(async () => {
  peer = await assembleRootfs(peerServerImage, join(dir, 'peer-server'));
  forwarder = await assembleRootfs(forwarderImage, join(dir, 'forwarder'));
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `command` in the image as its user, with the image's environment and `env`. */
function run(image: ImageSource, command: string[], env: Record<string, string> = {}) {
  const environment = Object.fromEntries(image.config.env.map((entry) => entry.split(/=(.*)/s).slice(0, 2)));
  const child = spawn('chroot', [`--userspec=${image.config.user}`, image.rootfs, ...command], { env: { ...environment, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output.stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (output.stderr += text));
  const exited = once(child, 'exit').then(([code]) => ({ code: code as number | null, ...output }));
  return { child, exited };
}

describe('assembleRootfs', () => {
  it('holds the Node.js binary of the npm node package and every library ldd names, where the loader looks', async () => {
    const libraries = await sharedLibraries(nodeBinary());

    expect(statSync(join(peer.rootfs, nodePath)).size).toBe(statSync(nodeBinary()).size);
    for (const library of libraries) expect(existsSync(join(peer.rootfs, library)), library).toBe(true);
    expect(libraries.some((library) => library.includes('ld-linux'))).toBe(true);
  });

  it('gives the same content key to the same inputs, and another to another configuration', async () => {
    const again = await assembleRootfs(peerServerImage, join(dir, 'peer-server-again'));

    expect(again.contentKey).toBe(peer.contentKey);
    expect(contentKey(peer.rootfs, { ...peer.config, user: '1001:1001' })).not.toBe(peer.contentKey);
  });

  it('names the unprivileged user, and leaves /tmp writable by all', () => {
    expect(readFileSync(join(peer.rootfs, 'etc/passwd'), 'utf8')).toContain('node:x:1000:1000:');
    expect(readFileSync(join(peer.rootfs, 'etc/group'), 'utf8')).toContain('node:x:1000:');
    expect(statSync(join(peer.rootfs, 'tmp')).mode & 0o7777).toBe(0o1777);
  });

  it("runs node as the image's user (uid 1000), with only the image's environment", async () => {
    const script = 'console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), user: require("os").userInfo().username, version: process.version, env: process.env.NODE_ENV }))';

    const { code, stdout } = await run(peer, ['node', '-e', script]).exited;

    expect(code).toBe(0);
    const version = JSON.parse(readFileSync(join(repoRoot, 'node_modules/node/package.json'), 'utf8')).version;
    expect(JSON.parse(stdout)).toEqual({ uid: 1000, gid: 1000, user: 'node', version: `v${version}`, env: 'production' });
  });
});

describe('the peer server image', () => {
  it('serves /ping from its entry point, answers the curl stand-in inside the image, and stops on SIGTERM', async () => {
    const server = run(peer, peer.config.entrypoint, { LISTEN_HOST: '127.0.0.1', PORT: '0', HOSTPORTS_FILE: '/tmp/hostports' });
    const port = await new Promise<string>((resolve, reject) => {
      createInterface({ input: server.child.stdout }).on('line', (line) => {
        const found = /Listening on 127\.0\.0\.1:(\d+);/.exec(line)?.[1];
        if (found) resolve(found);
      });
      void server.exited.then((result) => reject(new Error(`the server exited: ${JSON.stringify(result)}`)));
    });

    const curl = await run(peer, ['curl', '-s', `127.0.0.1:${port}/ping`]).exited;
    server.child.kill('SIGTERM');
    const stopped = await server.exited;

    expect(curl).toMatchObject({ code: 0, stdout: expect.stringMatching(/^pong from \S+$/), stderr: '' });
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toContain('pong from ');
  });
});

describe('the forwarder image', () => {
  it('loads its bundle with every dependency and fails fast naming the settings it lacks', async () => {
    const { code, stderr } = await run(forwarder, forwarder.config.entrypoint).exited;

    expect(code).toBe(1);
    expect(stderr).toContain('ConfigurationError');
    expect(stderr).toContain('EVENT_BUS_NAME');
  });
});
