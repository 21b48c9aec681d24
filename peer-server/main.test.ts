// The entry point as Kubernetes runs it: settings from the environment, log lines on stdout, and
// SIGTERM ending it at once with status 0.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'peer-server-main-'));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('peer-server/main.ts', () => {
  it('serves on the port from the environment, logs with a timestamp, and exits 0 on SIGTERM', async () => {
    const env = { ...process.env, LISTEN_HOST: '127.0.0.1', PORT: '0', HOSTPORTS_FILE: join(dir, 'hostports'), FIRST_PING_DELAY_MS: '600000' };
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'main.ts')], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: string[] = [];
    const listening = new Promise<number>((resolve) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        const port = /Listening on 127\.0\.0\.1:(\d+);/.exec(line)?.[1];
        if (port) resolve(Number(port));
      });
    });
    const exited = once(child, 'exit');

    const port = await listening;
    const body = await (await fetch(`http://127.0.0.1:${port}/ping`)).text();
    child.kill('SIGTERM');
    const [code] = await exited;

    expect(body).toMatch(/^pong from .+/);
    expect(code).toBe(0);
    expect(lines.some((line) => /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d pong from /.test(line))).toBe(true);
    expect(lines.at(-1)).toMatch(/ SIGTERM: stopping$/);
  });
});
