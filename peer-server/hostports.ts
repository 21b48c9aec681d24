// The peers file: one `host,port` per line, as the original reads it. Lines are trimmed and blank
// ones skipped; a line without a comma is reported and skipped; the port is not checked (a bad one
// fails when pinged, as in the original).

export interface Peer {
  host: string;
  port: string;
}

export interface Hostports {
  peers: Peer[];
  /** Lines without a comma, trimmed, in file order. */
  invalid: string[];
}

export function parseHostports(text: string): Hostports {
  const result: Hostports = { peers: [], invalid: [] };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const comma = line.indexOf(',');
    if (comma < 0) {
      result.invalid.push(line);
      continue;
    }
    result.peers.push({ host: line.slice(0, comma).trim(), port: line.slice(comma + 1).trim() });
  }
  return result;
}

export const peerUrl = (peer: Peer) => `http://${peer.host}:${peer.port}/ping`;
