// Ctrl-C on `npm start` in a terminal: the terminal sends SIGINT to the whole foreground process
// group (npm, the shell it runs, node). Everything `npm start` started must be gone afterwards:
// the control plane it started, the functions under `osls offline`, the forwarder, and on a real
// node its runtime and containers. npm start runs here with a cluster folder of its own, so that
// it starts (and must stop) a control plane of its own beside the one the other tests share.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../infra/local/cluster/layout.js';

const marker = `stimulated-peering-interrupt-${process.pid}-${Date.now()}`;
const clusterDir = mkdtempSync(join(tmpdir(), 'npm-start-'));

interface ProcessInfo {
  pid: number;
  ppid: number;
  /** The kernel's start time, so that a pid reused later is not taken for the same process. */
  startTime: string;
  command: string;
}

function processInfo(pid: number): ProcessInfo | undefined {
  try {
    // The command may hold spaces and parentheses: the fields after it follow the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    return { pid, ppid: Number(fields[1]), startTime: fields[19]!, command };
  } catch {
    return undefined;
  }
}

function allProcesses(): ProcessInfo[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map((entry) => processInfo(Number(entry)))
    .filter((info): info is ProcessInfo => info !== undefined);
}

function carriesMarker(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`INTERRUPT_TEST_RUN=${marker}`);
  } catch {
    return false;
  }
}

/** Every process started by this run of npm start: those that inherited its marker, and their descendants. */
function startedProcesses(): ProcessInfo[] {
  const processes = allProcesses();
  const ours = new Set(processes.filter((p) => carriesMarker(p.pid)).map((p) => p.pid));
  for (let grown = true; grown; ) {
    grown = false;
    for (const p of processes) {
      if (!ours.has(p.pid) && ours.has(p.ppid)) {
        ours.add(p.pid);
        grown = true;
      }
    }
  }
  return processes.filter((p) => ours.has(p.pid));
}

const stillRunning = (p: ProcessInfo) => processInfo(p.pid)?.startTime === p.startTime;

afterAll(() => {
  // Should the test fail half-way, nothing it started outlives it.
  for (const p of startedProcesses()) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  rmSync(clusterDir, { recursive: true, force: true });
});

describe('Ctrl-C on npm start', () => {
  it('leaves nothing running that npm start started', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, LOCAL_CLUSTER_DIR: clusterDir, INTERRUPT_TEST_RUN: marker };
    delete env.KUBECONFIG;
    // A process group of its own, as a terminal gives the job it runs in the foreground.
    const npm = spawn('npm', ['start'], { cwd: repoRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    for (const stream of [npm.stdout, npm.stderr]) stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => npm.once('exit', (code, signal) => resolve({ code, signal })));

    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start did not reach "Running." in 240 s:\n${output}`)), 240_000);
      const check = setInterval(() => {
        if (output.includes('\nRunning.')) {
          clearTimeout(timer);
          clearInterval(check);
          resolve();
        }
      }, 200);
      void exited.then(() => {
        clearTimeout(timer);
        clearInterval(check);
        reject(new Error(`npm start exited early:\n${output}`));
      });
    });
    const started = startedProcesses();
    expect(started.some((p) => p.command.includes('osls') && p.command.includes('offline'))).toBe(true);
    expect(started.some((p) => p.command.includes('kube-apiserver'))).toBe(true);

    process.kill(-npm.pid!, 'SIGINT');
    const { code, signal } = await exited;
    // What the stack's processes may still be doing after npm has gone is what a user would meet.
    await new Promise((r) => setTimeout(r, 2_000));

    expect(output).toContain('SIGINT: stopping');
    expect(output).toContain('stopped');
    // npm ends itself with the signal it was sent, as a shell expects of an interrupted job.
    expect(code === 0 || signal === 'SIGINT').toBe(true);
    expect(started.filter(stillRunning).map((p) => `${p.pid} ${p.command}`)).toEqual([]);
  }, 420_000);
});
