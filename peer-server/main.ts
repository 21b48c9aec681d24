// The peer server's entry point: read the settings, serve, and stop promptly on SIGTERM (what
// Kubernetes sends first) or SIGINT.
import { stdoutLog } from './log.js';
import { startPeerServer } from './server.js';
import { readSettings } from './settings.js';

async function main(): Promise<void> {
  const settings = readSettings(process.env);
  const server = await startPeerServer(settings);
  stdoutLog(`Listening on ${settings.host ?? ''}:${server.port}; peers from ${settings.hostportsFile}`);
  const stop = (signal: string) => {
    stdoutLog(`${signal}: stopping`);
    server.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(new Error('the peer server did not stop cleanly', { cause: error }));
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(new Error('the peer server could not start', { cause: error }));
  process.exit(1);
});
