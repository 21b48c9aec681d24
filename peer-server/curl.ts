// NOT THE REAL CURL. A tiny stand-in installed as /usr/local/bin/curl in the peer server's image
// (which has no curl: it is built without a base image), so that the original walkthrough's
// `kubectl exec <pod> -- curl <pod-ip>:8080/ping` works. It does one GET and writes the body to
// stdout. It understands `-s`/`--silent`, `-S`/`--show-error` and `-m`/`--max-time <seconds>`, and
// a URL with or without `http://`; anything else is refused. Exit codes follow curl's where they
// exist: 2 bad usage, 3 bad URL, 6 host not resolved, 7 connection failed, 28 timed out.

export interface CurlArgs {
  url: string;
  silent: boolean;
  showError: boolean;
  maxTimeMs?: number;
}

export class CurlUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CurlUsageError';
  }
}

function flag(args: CurlArgs, name: string): boolean {
  if (name === '-s' || name === '--silent') args.silent = true;
  else if (name === '-S' || name === '--show-error') args.showError = true;
  else if (/^-[sS]{2}$/.test(name)) args.silent = args.showError = true;
  else return false;
  return true;
}

export function parseCurlArgs(argv: string[]): CurlArgs {
  const args: CurlArgs = { url: '', silent: false, showError: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (flag(args, arg)) continue;
    if (arg === '-m' || arg === '--max-time') {
      const seconds = Number(argv[++i]);
      if (!(seconds > 0)) throw new CurlUsageError(`${arg} needs a number of seconds`);
      args.maxTimeMs = seconds * 1000;
    } else if (arg.startsWith('-')) {
      throw new CurlUsageError(`option ${arg} is not supported by this stand-in for curl`);
    } else if (args.url) {
      throw new CurlUsageError('only one URL is supported');
    } else {
      args.url = /^[a-z][a-z0-9+.-]*:\/\//i.test(arg) ? arg : `http://${arg}`;
    }
  }
  if (!args.url) throw new CurlUsageError('no URL specified');
  return args;
}

/** curl's exit code for a failed fetch. */
export function exitCodeOf(error: unknown): number {
  const cause = (error as { cause?: { code?: string } }).cause;
  if ((error as Error).name === 'TimeoutError') return 28;
  if (cause?.code === 'ENOTFOUND' || cause?.code === 'EAI_AGAIN') return 6;
  if ((error as Error).name === 'TypeError' && !cause) return 3;
  return 7;
}

export async function curl(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let args: CurlArgs;
  try {
    args = parseCurlArgs(argv);
  } catch (error) {
    err.write(`curl: ${(error as Error).message}\n`);
    return 2;
  }
  try {
    const response = await fetch(args.url, { signal: args.maxTimeMs ? AbortSignal.timeout(args.maxTimeMs) : undefined });
    out.write(Buffer.from(await response.arrayBuffer()));
    return 0;
  } catch (error) {
    const code = exitCodeOf(error);
    if (!args.silent || args.showError) {
      const reason = (error as { cause?: Error }).cause?.message ?? (error as Error).message;
      err.write(`curl: (${code}) ${reason}\n`);
    }
    return code;
  }
}
