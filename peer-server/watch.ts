// Notices a change of the peers file by polling its status at a fixed rate, as the original did,
// and with a ConfigMap volume in mind: kubelet updates one by swapping the `..data` symlink, so the
// path then names another file. The status follows symlinks and what identifies the file (device,
// inode, size, modification time) is compared, so the swap counts even within the same second.
// A missing file is said once, then polled quietly at the same rate until it appears (the
// original retried without sleeping: a core spun and its log flooded while the file was missing).
import { stat } from 'node:fs/promises';
import type { Log } from './log.js';

export interface FileWatchOptions {
  path: string;
  intervalMs: number;
  log: Log;
  /** Called when the file changed, appeared or went away since the previous poll. */
  onChange: () => void;
}

export interface FileWatch {
  stop(): void;
}

type Seen = { kind: 'file'; identity: string } | { kind: 'missing' } | { kind: 'unknown' };

async function look(path: string): Promise<Seen> {
  try {
    const status = await stat(path);
    return { kind: 'file', identity: `${status.dev}:${status.ino}:${status.size}:${status.mtimeMs}` };
  } catch {
    return { kind: 'missing' };
  }
}

const same = (a: Seen, b: Seen) => a.kind === b.kind && (a.kind !== 'file' || a.identity === (b as { identity: string }).identity);

export function watchFile(options: FileWatchOptions): FileWatch {
  let seen: Seen = { kind: 'unknown' };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const poll = async () => {
    const now = await look(options.path);
    if (stopped) return;
    if (now.kind === 'missing' && seen.kind !== 'missing') {
      options.log(`Configuration file ${options.path} not found; checking for it every ${options.intervalMs} ms`);
    }
    // The first look only sets what the file is; the first round is the start-up one.
    if (seen.kind !== 'unknown' && !same(seen, now)) options.onChange();
    seen = now;
    timer = setTimeout(() => void poll(), options.intervalMs);
  };
  void poll();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
