// The peer server's settings, from the environment, with the original server's values by default
// (port 8080, /config/hostports, a first round 1 s after start, then every 30 s, the file polled
// once a second). The original had no settings at all; these exist so that tests can run it on a
// free loopback port against a file of their own, faster. The per-request timeout is new: the
// original had none. Standalone on purpose: the image carries this folder's bundle and nothing of
// the operator.

export interface PeerServerSettings {
  /** Where to listen; all interfaces by default, as the original. */
  host?: string;
  /** 0 picks a free port (tests). */
  port: number;
  hostportsFile: string;
  firstPingDelayMs: number;
  pingIntervalMs: number;
  /** How often the file's status is read to notice a change (or its appearance). */
  watchIntervalMs: number;
  /** A peer that has not answered after this long counts as not available. */
  pingTimeoutMs: number;
}

export const defaultSettings: PeerServerSettings = {
  port: 8080,
  hostportsFile: '/config/hostports',
  firstPingDelayMs: 1_000,
  pingIntervalMs: 30_000,
  watchIntervalMs: 1_000,
  pingTimeoutMs: 5_000,
};

export class PeerServerSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PeerServerSettingsError';
  }
}

const numbers = {
  PORT: 'port',
  FIRST_PING_DELAY_MS: 'firstPingDelayMs',
  PING_INTERVAL_MS: 'pingIntervalMs',
  WATCH_INTERVAL_MS: 'watchIntervalMs',
  PING_TIMEOUT_MS: 'pingTimeoutMs',
} as const;

function readNumber(env: NodeJS.ProcessEnv, name: keyof typeof numbers, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  // A port may be 0 (any free port); an interval or a timeout must be positive.
  const least = name === 'PORT' ? 0 : 1;
  if (!Number.isInteger(value) || value < least || (name === 'PORT' && value > 65_535)) {
    throw new PeerServerSettingsError(`${name} must be an integer ${name === 'PORT' ? 'from 0 to 65535' : 'above 0'}, got "${text}"`);
  }
  return value;
}

/** Reads LISTEN_HOST, PORT, HOSTPORTS_FILE and the *_MS settings; throws naming a malformed one. */
export function readSettings(env: NodeJS.ProcessEnv): PeerServerSettings {
  const settings: PeerServerSettings = { ...defaultSettings };
  for (const [name, key] of Object.entries(numbers) as [keyof typeof numbers, (typeof numbers)[keyof typeof numbers]][]) {
    settings[key] = readNumber(env, name, defaultSettings[key]);
  }
  if (env.HOSTPORTS_FILE) settings.hostportsFile = env.HOSTPORTS_FILE;
  if (env.LISTEN_HOST) settings.host = env.LISTEN_HOST;
  return settings;
}
