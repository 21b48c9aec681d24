// The forwarder's entry point: read the configuration, start, and shut down cleanly on SIGTERM.
import { readForwarderConfig } from './config.js';
import { createLogger, startForwarder } from './forwarder.js';

async function main(): Promise<void> {
  const config = readForwarderConfig();
  const log = createLogger(config);
  const forwarder = await startForwarder(config, { log, defaultMetrics: true });
  const stop = (signal: string) => {
    log.info('stopping', { signal });
    forwarder.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error('shutdown failed', { error: String(error) });
        process.exit(1);
      },
    );
  };
  // A fault has been logged; exiting lets the kubelet restart the container at once.
  void forwarder.done.then(() => {
    if (!forwarder.live()) process.exit(1);
  });
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

// Anything unexpected ends the process loudly, so the kubelet restarts it; nothing fails quietly.
process.on('unhandledRejection', (reason) => {
  console.error(JSON.stringify({ level: 'ERROR', message: 'unhandled rejection', error: String(reason) }));
  process.exit(1);
});
main().catch((error: unknown) => {
  console.error(JSON.stringify({ level: 'ERROR', message: 'the forwarder could not start', error: String(error) }));
  process.exit(1);
});
