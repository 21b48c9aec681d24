// npm run cluster:up | cluster:down — the local control plane from the command line.
import { ClusterStartError, down, up } from './control-plane.js';

const command = process.argv[2];
try {
  if (command === 'up') {
    const state = await up((line) => console.log(line));
    console.log(`\nexport KUBECONFIG=${state.kubeconfig}\nexport PATH=${state.binDir}:$PATH   # kubectl`);
  } else if (command === 'down') {
    await down();
    console.log('control plane stopped');
  } else {
    console.error('usage: tsx infra/local/cluster/cli.ts up|down');
    process.exitCode = 2;
  }
} catch (error) {
  console.error(error instanceof ClusterStartError ? `cluster failed to start: ${error.message}` : error);
  process.exitCode = 1;
}
