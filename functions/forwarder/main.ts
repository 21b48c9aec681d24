// The forwarder's entry point: read the configuration, start, and shut down cleanly on SIGTERM.
import { readForwarderConfig } from './config.js';
import { createLogger, startForwarder } from './forwarder.js';

// Until the configuration is read, log at the default level, as whatever instance this is.
let log = createLogger({ LOG_LEVEL: 'INFO', POD_NAME: process.env.POD_NAME ?? 'forwarder' });

async function main(): Promise<void> {
  const config = readForwarderConfig();
  log = createLogger(config);
  const forwarder = await startForwarder(config, { log, defaultMetrics: true });
  const stop = (signal: string) => {
    log.info('stopping', { signal });
    forwarder.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error('shutdown failed', { error });
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
  log.error('unhandled rejection', { error: reason });
  process.exit(1);
});
main().catch((error: unknown) => {
  log.error('the forwarder could not start', { error });
  process.exit(1);
});
