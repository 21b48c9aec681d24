// Process supervision shared by the local control plane and the local stack: start a process in a
// group of its own with its output in a log, wait for it to serve, and stop it (SIGTERM, then SIGKILL).
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer } from 'node:net';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A process this run may stop: `running` says whether it is still the one started (not a reused pid). */
export interface OwnedProcess {
  pid: number;
  /** Signal its whole process group (osls offline starts workers of its own). */
  group?: boolean;
  running(): boolean;
}

/** Starts `command` detached, its output appended to `logFile`; returns its pid. */
export function startDetached(command: string, args: string[], logFile: string): number {
  const log = openSync(logFile, 'a');
  const child = spawn(command, args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  if (!child.pid) throw new Error(`could not start ${command}`);
  return child.pid;
}

/** SIGTERM, and SIGKILL if it is still running after `graceMs`; resolves once it has gone. */
export async function stopProcess(target: OwnedProcess | undefined, graceMs = 10_000): Promise<void> {
  if (!target?.running()) return;
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(target.group ? -target.pid : target.pid, name);
    } catch {
      // gone already
    }
  };
  signal('SIGTERM');
  for (let waited = 0; waited < graceMs && target.running(); waited += 100) await sleep(100);
  if (!target.running()) return;
  signal('SIGKILL');
  for (let waited = 0; waited < 5_000 && target.running(); waited += 100) await sleep(100);
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Why waiting longer is pointless (the process died), or undefined while it is worth waiting. */
  hopeless?: () => string | undefined;
  /** The error to throw, given what went wrong. */
  failure?: (message: string) => Error;
}

/** Polls `ready` (a rejection counts as not ready) until it answers true. */
export async function waitUntil(what: string, ready: () => Promise<boolean>, options: WaitOptions): Promise<void> {
  const failure = options.failure ?? ((message: string) => new Error(message));
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline) {
    const reason = options.hopeless?.();
    if (reason) throw failure(`${reason} while waiting for ${what}`);
    if (await ready().catch(() => false)) return;
    await sleep(options.intervalMs ?? 250);
  }
  throw failure(`timed out after ${options.timeoutMs / 1000} s waiting for ${what}`);
}

/** A loopback port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}
