// One round of pings: every peer in the file at once, each with its own deadline, so that a peer
// which never answers costs the round at most the timeout and delays no other peer (the original
// pinged one after the other, without a timeout, so one such peer stalled every later round).
import { readFile } from 'node:fs/promises';
import { parseHostports, peerUrl, type Peer } from './hostports.js';
import type { Log } from './log.js';

export interface RoundOptions {
  hostportsFile: string;
  timeoutMs: number;
  log: Log;
  /** Aborts the pings in flight (the server is stopping). */
  signal?: AbortSignal;
}

async function ping(peer: Peer, options: RoundOptions): Promise<void> {
  const url = peerUrl(peer);
  const deadline = AbortSignal.timeout(options.timeoutMs);
  try {
    const response = await fetch(url, { signal: options.signal ? AbortSignal.any([deadline, options.signal]) : deadline });
    // Any answer counts, whatever its status, as in the original; the body is not needed.
    await response.body?.cancel();
    options.log(`pong from ${peer.host}:${peer.port}`);
  } catch {
    if (!options.signal?.aborted) options.log(`Server not available at ${url}`);
  }
}

/** Reads the peers file and pings every peer in it; resolves when every ping has ended. */
export async function pingRound(options: RoundOptions): Promise<void> {
  let text: string;
  try {
    text = await readFile(options.hostportsFile, 'utf8');
  } catch (error) {
    options.log(`Failed to read configuration: ${(error as Error).message}`);
    return;
  }
  const { peers, invalid } = parseHostports(text);
  for (const line of invalid) options.log(`Invalid host-port configuration: ${line}`);
  await Promise.all(peers.map((peer) => ping(peer, options)));
}
