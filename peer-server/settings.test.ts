import { describe, expect, it } from 'vitest';
import { defaultSettings, PeerServerSettingsError, readSettings } from './settings.js';

describe('readSettings', () => {
  it("defaults to the original server's port, file and intervals", () => {
    expect(readSettings({})).toEqual({
      port: 8080,
      hostportsFile: '/config/hostports',
      firstPingDelayMs: 1_000,
      pingIntervalMs: 30_000,
      watchIntervalMs: 1_000,
      pingTimeoutMs: 5_000,
    });
    expect(readSettings({})).toEqual(defaultSettings);
  });

  it('reads every setting from the environment', () => {
    const env = { LISTEN_HOST: '127.0.0.1', PORT: '0', HOSTPORTS_FILE: '/tmp/h', FIRST_PING_DELAY_MS: '5', PING_INTERVAL_MS: '6', WATCH_INTERVAL_MS: '7', PING_TIMEOUT_MS: '8' };

    expect(readSettings(env)).toEqual({ host: '127.0.0.1', port: 0, hostportsFile: '/tmp/h', firstPingDelayMs: 5, pingIntervalMs: 6, watchIntervalMs: 7, pingTimeoutMs: 8 });
  });

  it('refuses a malformed number, naming it', () => {
    expect(() => readSettings({ PING_TIMEOUT_MS: '0' })).toThrow(PeerServerSettingsError);
    expect(() => readSettings({ PORT: '70000' })).toThrow(/PORT/);
    expect(() => readSettings({ WATCH_INTERVAL_MS: '1.5' })).toThrow(/WATCH_INTERVAL_MS/);
  });
});
