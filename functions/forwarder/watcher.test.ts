import { KubeConfig, Watch } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

describe('the client-node Watch the watcher relies on', () => {
  // The watcher sets this private inactivity timeout to its silence limit; if an upgrade renames
  // it, silent watches would again be left hanging, so an upgrade must fail here first.
  it('still has the inactivity timeout the watcher sets', () => {
    const watch = new Watch(new KubeConfig());

    expect(watch).toHaveProperty('requestTimeoutMs', 30_000);
  });
});
