// The images this project builds without Docker, in one place: what each bundles with esbuild
// and where it puts it, and the image configuration (entry point, user, environment, ports,
// working directory). The Dockerfiles users build with (infra/forwarder/Dockerfile,
// peer-server/Dockerfile) say the same; images.test.ts checks that they agree.
//
// Both run as uid/gid 1000, named `node` as in the node:22 image their Dockerfiles build on: a
// numeric user, so that kubelet can check runAsNonRoot (the original peer server's `appuser` was a
// name, which runAsNonRoot refuses). Neither needs a capability or a writable root filesystem.

export interface Bundle {
  /** The TypeScript entry point, from the repository root. */
  entry: string;
  /** Where the bundle goes in the image. */
  path: string;
  format: 'esm' | 'cjs';
  sourcemap: boolean;
  /** The first line of the bundle: a shebang for a command, createRequire for an ESM bundle. */
  banner?: string;
  /** 0o755 for a command. */
  mode: number;
}

/** The image configuration, in the image tool's JSON (infra/local/cluster/nodetools/oci-image). */
export interface ImageConfig {
  user: string;
  env: string[];
  entrypoint: string[];
  workingDir: string;
  /** `8080/tcp` */
  exposedPorts: string[];
  labels: Record<string, string>;
}

export interface ImageSpec {
  /** The short name: `stimulated-peering/<name>:<version>`. */
  name: 'forwarder' | 'peer-server';
  reference: string;
  /** The Dockerfile users build it with, from the repository root. */
  dockerfile: string;
  bundles: Bundle[];
  user: { name: string; uid: number; gid: number };
  config: ImageConfig;
}

export const imageVersion = '0.1.0';
/** Where the Node.js binary goes, as in the official node images; the entry points find it on PATH. */
export const nodePath = '/usr/local/bin/node';
const path = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

// esbuild's settings for an ESM bundle that may require() Node's built-ins from CommonJS deps.
const esmBanner = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

function image(name: ImageSpec['name'], bundles: Bundle[], user: ImageSpec['user'], env: string[]): ImageSpec {
  const main = bundles[0]!;
  return {
    name,
    reference: `stimulated-peering/${name}:${imageVersion}`,
    dockerfile: name === 'forwarder' ? 'infra/forwarder/Dockerfile' : 'peer-server/Dockerfile',
    bundles,
    user,
    config: {
      user: `${user.uid}:${user.gid}`,
      env: [path, ...env],
      entrypoint: ['node', main.path],
      workingDir: '/app',
      exposedPorts: ['8080/tcp'],
      labels: { 'org.opencontainers.image.title': `stimulated-peering ${name}`, 'org.opencontainers.image.version': imageVersion },
    },
  };
}

export const forwarderImage = image(
  'forwarder',
  [{ entry: 'functions/forwarder/main.ts', path: '/app/forwarder.mjs', format: 'esm', sourcemap: true, banner: esmBanner, mode: 0o644 }],
  { name: 'node', uid: 1000, gid: 1000 },
  ['NODE_ENV=production', 'NODE_OPTIONS=--enable-source-maps'],
);

export const peerServerImage = image(
  'peer-server',
  [
    { entry: 'peer-server/main.ts', path: '/app/peer-server.mjs', format: 'esm', sourcemap: false, banner: esmBanner, mode: 0o644 },
    // Not the real curl (peer-server/curl.ts): the original walkthrough's `kubectl exec … curl`.
    { entry: 'peer-server/curl-main.ts', path: '/usr/local/bin/curl', format: 'cjs', sourcemap: false, banner: `#!${nodePath}`, mode: 0o755 },
  ],
  { name: 'node', uid: 1000, gid: 1000 },
  ['NODE_ENV=production'],
);

export const images: readonly ImageSpec[] = [forwarderImage, peerServerImage];
