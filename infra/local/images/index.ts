// The project's images, built without Docker: each one's root filesystem and configuration under
// `.cluster/images/<name>/` (rootfs/ and config.json), ready for the image tool to make an OCI
// image of and load into the node's container runtime.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadedContentKey, loadImage, type ClusterState } from '../cluster/index.js';
import { clusterDir } from '../cluster/layout.js';
import { assembleRootfs, type ImageSource } from './rootfs.js';
import { images, type ImageSpec } from './specs.js';

export { type ImageSource } from './rootfs.js';
export { forwarderImage, images, peerServerImage, type ImageSpec } from './specs.js';

export const imagesDir = join(clusterDir, 'images');

/** Assembles `spec`'s root filesystem and writes its configuration beside it. */
export async function buildImage(spec: ImageSpec, dir = join(imagesDir, spec.name)): Promise<ImageSource> {
  mkdirSync(dir, { recursive: true });
  const source = await assembleRootfs(spec, join(dir, 'rootfs'));
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify({ reference: source.reference, config: source.config }, null, 2)}\n`);
  return source;
}

/** Every image, one after the other (each copies the 125 MB Node.js binary). */
export async function buildImages(specs: readonly ImageSpec[] = images): Promise<ImageSource[]> {
  const built: ImageSource[] = [];
  for (const spec of specs) built.push(await buildImage(spec));
  return built;
}

/** Loads an image into the local cluster's real node, unless the node has that very image (same content key) already. */
export function loadIntoNode(state: ClusterState, source: ImageSource): void {
  if (loadedContentKey(state, source.reference) !== source.contentKey) loadImage(state, source);
}

/** Builds `spec`'s image and loads it into the node: what a pod of the local stage can then run. */
export async function provideImage(state: ClusterState, spec: ImageSpec): Promise<ImageSource> {
  const source = await buildImage(spec);
  loadIntoNode(state, source);
  return source;
}
