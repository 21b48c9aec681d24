// Container images for the real node, built here from a root filesystem folder (nothing can be
// pulled): the image tool (nodetools/oci-image) writes a `docker save` tarball, which is imported
// into the node's containerd, where the kubelet finds it (imagePullPolicy IfNotPresent or Never).
//
// The contract, for whoever builds images (the project's Node.js images, the tests' netcheck):
//   loadImage(state, { reference, rootfs, config, contentKey? }) → { id, reference }
//     reference: 'stimulated-peering/peer-server:0.1.0' style; stored normalised
//       ('docker.io/stimulated-peering/peer-server:0.1.0'), which is also what a pod's short name
//       resolves to.
//     rootfs: a folder holding the whole root filesystem (owners and modes as on disk; times are
//       zeroed, so the same folder gives the same image ID).
//     config: entrypoint, cmd, user, env, exposedPorts ('8080/tcp'), workingDir, labels.
//     contentKey: any string naming the inputs (a hash of the rootfs and config); recorded on the
//       image, so that loadedContentKey can tell, without building anything, whether it is loaded.
//       Defaults to the image ID.
//   loadedContentKey(state, reference) → the contentKey the loaded image was loaded with, or
//     undefined when no image is loaded under that reference.
// Images live as long as the node's containerd: every `up` starts with none but the pause image.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ctr, nodeFiles, pauseImage } from './node.js';
import type { ClusterState } from './state.js';

export interface ImageConfig {
  entrypoint?: string[];
  cmd?: string[];
  user?: string;
  env?: string[];
  exposedPorts?: string[];
  workingDir?: string;
  labels?: Record<string, string>;
}

export interface ImageSource {
  reference: string;
  rootfs: string;
  config: ImageConfig;
  contentKey?: string;
}

const contentKeyLabel = 'stimulated-peering.dev/content-key';

/** A reference as containerd and the kubelet name it: registry and repository spelt out. */
export function normalizedReference(reference: string): string {
  const [first, ...rest] = reference.split('/');
  const hasRegistry = rest.length > 0 && (first!.includes('.') || first!.includes(':') || first === 'localhost');
  const named = hasRegistry ? reference : `docker.io/${rest.length ? reference : `library/${reference}`}`;
  return /:[^/]+$/.test(named) || named.includes('@') ? named : `${named}:latest`;
}

/** Builds the image from the folder and imports it into the node's containerd; returns its ID. */
export function loadImage(state: ClusterState, image: ImageSource): { id: string; reference: string } {
  const work = mkdtempSync(join(nodeFiles.images, 'build-'));
  try {
    const configPath = join(work, 'config.json');
    const tarball = join(work, 'image.tar');
    writeFileSync(configPath, JSON.stringify(image.config));
    const id = execFileSync(
      join(state.binDir, 'oci-image'),
      ['--rootfs', image.rootfs, '--config', configPath, '--reference', image.reference, '--output', tarball],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    ).trim();
    const reference = normalizedReference(image.reference);
    ctr(state, ['images', 'import', '--platform', 'linux/amd64', tarball]);
    ctr(state, ['images', 'label', reference, `${contentKeyLabel}=${image.contentKey ?? id}`]);
    return { id, reference };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The content key the image under `reference` was loaded with, or undefined when none is loaded. */
export function loadedContentKey(state: ClusterState, reference: string): string | undefined {
  const listing = ctr(state, ['images', 'ls', `name==${normalizedReference(reference)}`]);
  const labels = listing.split('\n').slice(1).find(Boolean)?.trim().split(/\s+/).pop() ?? '';
  return labels
    .split(',')
    .find((label) => label.startsWith(`${contentKeyLabel}=`))
    ?.slice(contentKeyLabel.length + 1);
}

/** The pod sandbox's image: nodetools/pause alone, which containerd's pinned sandbox image names. */
export function loadPauseImage(state: ClusterState): void {
  const rootfs = mkdtempSync(join(nodeFiles.images, 'pause-'));
  try {
    copyFileSync(join(state.binDir, 'pause'), join(rootfs, 'pause'));
    loadImage(state, { reference: pauseImage, rootfs, config: { entrypoint: ['/pause'], user: '65535:65535' } });
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
}
