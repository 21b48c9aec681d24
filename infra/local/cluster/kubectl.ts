// kubectl as a process: the binary built beside the control plane (or any other), against a kubeconfig.
import { execFile } from 'node:child_process';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl; resolves with its exit code and output rather than throwing. */
export function kubectl(binary: string, kubeconfig: string, args: string[], input?: string): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = execFile(binary, args, { env: { ...process.env, KUBECONFIG: kubeconfig }, maxBuffer: 256 * 2 ** 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** kubectl that must succeed; returns its standard output. */
export async function kubectlOk(binary: string, kubeconfig: string, args: string[], input?: string): Promise<string> {
  const result = await kubectl(binary, kubeconfig, args, input);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}
