// Log lines as Go's standard logger writes them (`2006/01/02 15:04:05 message`, UTC here), so that
// `kubectl logs` of this server reads like the original's.
export type Log = (line: string) => void;

const two = (n: number) => String(n).padStart(2, '0');

export function goTimestamp(date: Date): string {
  return `${date.getUTCFullYear()}/${two(date.getUTCMonth() + 1)}/${two(date.getUTCDate())} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
}

export const stdoutLog: Log = (line) => {
  process.stdout.write(`${goTimestamp(new Date())} ${line}\n`);
};
