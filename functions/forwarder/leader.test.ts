import { Logger } from '@aws-lambda-powertools/logger';
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it, vi } from 'vitest';
import { LeaderElector } from './leader.js';

const log = new Logger({ logLevel: 'SILENT' });

function elector() {
  const config = new KubeConfig();
  config.loadFromClusterAndUser({ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }, { name: 'u' });
  const options = { namespace: 'ns', name: 'lease', identity: 'me', leaseDurationMs: 1000, renewDeadlineMs: 500, retryPeriodMs: 10 };
  const instance = new LeaderElector(config, options, log);
  // The Lease itself is covered against the real apiserver; here only the loop around it.
  vi.spyOn(instance, 'tryAcquireOrRenew').mockResolvedValue(true);
  const release = vi.spyOn(instance, 'release').mockResolvedValue();
  return { instance, release };
}

describe('LeaderElector', () => {
  describe('when the leader\'s work ends by itself', () => {
    it('releases the lease and fails instead of holding it idle', async () => {
      const { instance, release } = elector();
      const stop = new AbortController();

      const running = instance.run(stop.signal, async () => undefined);

      await expect(running).rejects.toThrow(/ended by itself/);
      expect(release).toHaveBeenCalled();
      expect(instance.leading).toBe(false);
    });
  });

  describe('when asked to stop', () => {
    it('stops the work, then releases the lease', async () => {
      const { instance, release } = elector();
      const stop = new AbortController();
      let workStopped = false;
      const untilAborted = (signal: AbortSignal) =>
        new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => {
            workStopped = true;
            resolve();
          }),
        );
      const running = instance.run(stop.signal, untilAborted);
      await vi.waitFor(() => expect(instance.leading).toBe(true));

      stop.abort();

      await expect(running).resolves.toBeUndefined();
      expect(workStopped).toBe(true);
      expect(release).toHaveBeenCalled();
    });
  });
});
