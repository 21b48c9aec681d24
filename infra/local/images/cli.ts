// npm run images:build [-- forwarder|peer-server …]: assembles the images' root filesystems under
// .cluster/images/ and says where.
import { buildImages, images } from './index.js';

const names = process.argv.slice(2);
const unknown = names.filter((name) => !images.some((spec) => spec.name === name));
if (unknown.length) {
  console.error(`unknown image ${unknown.join(', ')}; known: ${images.map((spec) => spec.name).join(', ')}`);
  process.exit(2);
}
const started = Date.now();
for (const source of await buildImages(images.filter((spec) => !names.length || names.includes(spec.name)))) {
  console.log(`${source.reference}  ${source.rootfs}`);
}
console.log(`built in ${Date.now() - started} ms`);
