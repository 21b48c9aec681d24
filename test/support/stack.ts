// The local stack as the end-to-end tests run it: the functions as their own identity, the
// forwarder watching one namespace, logs kept beside the test's temporary files.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStack, type LocalStackOptions } from '../../infra/local/stack.js';
import { kubeconfigPath, reconcilerKubeconfigPath } from './kube.js';

export function startTestStack(namespace: string, options: Partial<LocalStackOptions> = {}): Promise<LocalStack> {
  return LocalStack.start({
    kubeconfig: kubeconfigPath(),
    functionsKubeconfig: reconcilerKubeconfigPath(),
    logDir: join(tmpdir(), `local-stack-${namespace}`),
    ...options,
    forwarderEnv: { WATCH_NAMESPACES: namespace, LOG_LEVEL: 'INFO', ...options.forwarderEnv },
  });
}
