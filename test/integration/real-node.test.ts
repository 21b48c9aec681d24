// The real node runs containers: an image built by the image tool starts on it, becomes Ready
// through an HTTP probe, and is reached by pod IP and by its Service's DNS names through
// kube-proxy; a pod with a ServiceAccount token reaches the apiserver through the `kubernetes`
// Service. Pods of ordinary namespaces still go to KWOK, and nothing of a deleted pod keeps running.
import type { V1Pod } from '@kubernetes/client-node';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ctr, fakeNodeName, loadedContentKey, loadImage, realNodeName, realNodeNamespace, requireRunning, type ClusterState } from '../../infra/local/cluster/index.js';
import { adminClients, createNamespace, deleteNamespace, eventually, kubectlOk, uniqueName } from '../support/kube.js';

const { core } = adminClients();
const image = 'stimulated-peering/netcheck:test';
let state: ClusterState;
let namespace: string;
let kwokNamespace: string;

/** A pod of netcheck as the security work wants every pod: non-root, RuntimeDefault seccomp, no privileges. */
function netcheckPod(name: string, args: string[], extra: Partial<V1Pod['spec']> = {}): V1Pod {
  return {
    metadata: { name, labels: { app: name } },
    spec: {
      restartPolicy: 'Never',
      // netcheck is its container's PID 1, which SIGTERM does not stop: do not wait 30 s for nothing.
      terminationGracePeriodSeconds: 1,
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'netcheck',
          image,
          imagePullPolicy: 'IfNotPresent',
          args,
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
        },
      ],
      ...extra,
    } as V1Pod['spec'],
  };
}

const podPhase = async (name: string) => (await core.readNamespacedPod({ namespace, name })).status?.phase;

async function waitForSuccess(name: string): Promise<void> {
  const phase = await eventually(`pod ${name} to finish`, async () => {
    const current = await podPhase(name);
    return current === 'Succeeded' || current === 'Failed' ? current : undefined;
  }, { timeoutMs: 90_000 });
  if (phase !== 'Succeeded') throw new Error(`pod ${name} failed:\n${await kubectlOk(['logs', '-n', namespace, name])}`);
}

beforeAll(async () => {
  state = requireRunning();
  const rootfs = mkdtempSync(join(tmpdir(), 'netcheck-rootfs-'));
  try {
    copyFileSync(join(state.binDir, 'netcheck'), join(rootfs, 'netcheck'));
    loadImage(state, { reference: image, rootfs, config: { entrypoint: ['/netcheck'], user: '65532', exposedPorts: ['8080/tcp'] } });
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
  namespace = uniqueName('real-node');
  await core.createNamespace({ body: realNodeNamespace(namespace, { 'stimulated-peering.test': 'true' }) });
  kwokNamespace = await createNamespace('kwok-node');
});

afterAll(async () => {
  await deleteNamespace(namespace);
  await deleteNamespace(kwokNamespace);
});

describe('the real node', () => {
  it('knows the loaded image by its normalised name and content key', () => {
    expect(loadedContentKey(state, image)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(loadedContentKey(state, `docker.io/${image}`)).toBe(loadedContentKey(state, image));
    expect(loadedContentKey(state, 'stimulated-peering/not-loaded:0')).toBeUndefined();
  });

  it('runs a container from the image, Ready through its HTTP probe, under the RuntimeDefault seccomp filter', async () => {
    const server = netcheckPod('server', ['serve', '8080'], {});
    server.spec!.restartPolicy = 'Always';
    server.spec!.containers[0]!.ports = [{ containerPort: 8080 }];
    server.spec!.containers[0]!.readinessProbe = { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 };
    await core.createNamespacedPod({ namespace, body: server });
    await core.createNamespacedService({
      namespace,
      body: { metadata: { name: 'web' }, spec: { selector: { app: 'server' }, ports: [{ port: 8080, targetPort: 8080 }] } },
    });

    const pod = await eventually('the server pod to be Ready', async () => {
      const current = await core.readNamespacedPod({ namespace, name: 'server' });
      return current.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? current : undefined;
    }, { timeoutMs: 90_000 });
    expect(pod.spec?.nodeName).toBe(realNodeName);
    expect(pod.spec?.tolerations).toContainEqual(expect.objectContaining({ key: 'node.stimulated-peering.dev/real' }));
    const podIp = pod.status!.podIP!;
    expect(podIp.startsWith(state.node!.podCidr.split('.').slice(0, 3).join('.'))).toBe(true);

    // The host reaches pods through its route to the node.
    expect(await (await fetch(`http://${podIp}:8080/`)).text()).toBe('netcheck server\n');

    const containerId = pod.status!.containerStatuses![0]!.containerID!.replace('containerd://', '');
    const task = ctr(state, ['tasks', 'ls']).split('\n').find((line) => line.startsWith(containerId));
    const pid = Number(task!.trim().split(/\s+/)[1]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    expect(status).toMatch(/^Seccomp:\s+2$/m); // a filter is installed
    expect(status).toMatch(/^Uid:\s+65532\s/m);
  });

  it('lets another pod reach it by pod IP and by its Service name, short and fully qualified', async () => {
    const podIp = (await core.readNamespacedPod({ namespace, name: 'server' })).status!.podIP!;
    const urls = [`http://${podIp}:8080/`, 'http://web:8080/', `http://web.${namespace}.svc.cluster.local:8080/`];
    await core.createNamespacedPod({ namespace, body: netcheckPod('client', ['get', ...urls]) });
    await waitForSuccess('client');
    // kubectl logs goes through the apiserver to the kubelet, with the apiserver's client certificate.
    const logs = await kubectlOk(['logs', '-n', namespace, 'client']);
    for (const url of urls) expect(logs).toContain(`GET ${url}: netcheck server`);
  });

  it('lets a pod reach the apiserver through the kubernetes Service with its ServiceAccount token', async () => {
    await core.createNamespacedPod({ namespace, body: netcheckPod('in-cluster', ['kube-get', '/api']) });
    await waitForSuccess('in-cluster');
    expect(await kubectlOk(['logs', '-n', namespace, 'in-cluster'])).toContain('"kind":"APIVersions"');
  });

  it('leaves the pods of an ordinary namespace to KWOK', async () => {
    await core.createNamespacedPod({ namespace: kwokNamespace, body: { metadata: { name: 'fake' }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } });
    const pod = await eventually('the pod to be scheduled', async () => {
      const current = await core.readNamespacedPod({ namespace: kwokNamespace, name: 'fake' });
      return current.spec?.nodeName ? current : undefined;
    });
    expect(pod.spec?.nodeName).toBe(fakeNodeName);
    expect(pod.spec?.nodeSelector).toEqual({ type: 'kwok' });
  });

  it('keeps nothing of a namespace running once it is deleted', async () => {
    const containers = () => ctr(state, ['containers', 'ls', '-q', `labels."io.kubernetes.pod.namespace"==${namespace}`]).trim();
    expect(containers()).not.toBe('');
    await deleteNamespace(namespace);
    await eventually('the namespace to be gone', async () => !(await core.listNamespace()).items.some((n) => n.metadata?.name === namespace), {
      timeoutMs: 90_000,
    });
    await eventually('its containers to be removed from containerd', () => containers() === '', { timeoutMs: 60_000 });
  });
});
