import { describe, expect, it } from 'vitest';
import { desiredChildren as wantedChildren, type Children } from './children.js';
import { CONFIG_MOUNT_PATH, configMapName, fitName, LABEL_INSTANCE, LABEL_MANAGED_BY, podSelector, selectorLabels, workloadName } from './desired.js';
import { checkSpec } from './images.js';
import type { KindCustomHttp } from './kindcustomhttp.js';

/** Every kind these tests look at is one every CR has. */
const desiredChildren = (...args: Parameters<typeof wantedChildren>) => wantedChildren(...args) as Required<Children>;

function customResource(name = 'kindcustomhttp-sample', spec: unknown = { port: 80, replicaCount: 2, configMapData: { hostports: 'localhost,8080\n' } }) {
  const cr: KindCustomHttp = {
    apiVersion: 'groupsp.measutosh.dev/v1',
    kind: 'KindCustomHttp',
    metadata: { name, namespace: 'peerns', uid: 'uid-1', generation: 1 },
    spec,
  };
  const parsed = checkSpec(spec, { allowed: ['measutosh/http-server', 'registry.example/'], defaultImage: 'measutosh/http-server' });
  if (!parsed.ok) throw new Error(parsed.message);
  return { cr, spec: parsed.spec };
}

describe('desiredChildren', () => {
  it('exposes one port when spec.port is already 8080', () => {
    const { cr, spec } = customResource('on-8080', { port: 8080, replicaCount: 1 });
    expect(desiredChildren(cr, spec).Service.spec!.ports).toEqual([{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }]);
  });

  it('gives a CR without hostports an empty one, so that the original server does not spin on a missing file', () => {
    const { cr, spec } = customResource('no-peers', { port: 80, replicaCount: 1, configMapData: { other: 'x' } });
    expect(desiredChildren(cr, spec).ConfigMap.data).toEqual({ hostports: '', other: 'x' });
    const { cr: bare, spec: bareSpec } = customResource('no-data', { port: 80, replicaCount: 1 });
    expect(desiredChildren(bare, bareSpec).ConfigMap.data).toEqual({ hostports: '' });
  });

  describe('for the original sample CR', () => {
    const { cr, spec } = customResource();
    const { Deployment: deployment, Service: service, ConfigMap: configMap } = desiredChildren(cr, spec);

    it('names the children as the original operator did', () => {
      expect(deployment.metadata?.name).toBe('kindcustomhttp-sample');
      expect(service.metadata?.name).toBe('kindcustomhttp-sample');
      expect(configMap.metadata?.name).toBe('kindcustomhttp-sample-configmap');
    });

    it('runs pods that pass the restricted Pod Security Standard, with no ServiceAccount token', () => {
      const pod = deployment.spec!.template.spec!;
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.serviceAccountName).toBeUndefined();
      expect(pod.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.containers[0]!.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      expect(pod.volumes!.every((volume) => volume.configMap)).toBe(true);
    });

    it('runs the requested replicas of the server listening on 8080', () => {
      const container = deployment.spec!.template.spec!.containers[0]!;
      expect(deployment.spec!.replicas).toBe(2);
      expect(container.image).toBe('measutosh/http-server');
      expect(container.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    });

    it('probes readiness and liveness on /ping', () => {
      const container = deployment.spec!.template.spec!.containers[0]!;
      expect(container.readinessProbe?.httpGet).toEqual({ path: '/ping', port: 'http' });
      expect(container.livenessProbe?.httpGet).toEqual({ path: '/ping', port: 'http' });
    });

    it('mounts the ConfigMap at /config', () => {
      const pod = deployment.spec!.template.spec!;
      expect(pod.volumes).toEqual([{ name: 'config', configMap: { name: 'kindcustomhttp-sample-configmap' } }]);
      expect(pod.containers[0]!.volumeMounts).toEqual([{ name: 'config', mountPath: CONFIG_MOUNT_PATH, readOnly: true }]);
      expect(configMap.data).toEqual({ hostports: 'localhost,8080\n' });
    });

    it('exposes spec.port on the Service and forwards it to the container port, not to port 80', () => {
      expect(service.spec!.ports![0]).toEqual({ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' });
    });

    it('also exposes 8080, which hostports written for the original headless Service name', () => {
      expect(service.spec!.ports).toEqual([
        { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
        { name: 'http-original', port: 8080, targetPort: 'http', protocol: 'TCP' },
      ]);
    });

    it('selects the pods with labels of this instance only', () => {
      expect(deployment.spec!.selector.matchLabels).toEqual(selectorLabels('kindcustomhttp-sample'));
      expect(service.spec!.selector).toEqual(selectorLabels('kindcustomhttp-sample'));
      expect(deployment.spec!.template.metadata!.labels).toMatchObject(selectorLabels('kindcustomhttp-sample'));
    });

    it('labels every child as managed by this operator and owned by the CR', () => {
      for (const child of [deployment, service, configMap]) {
        expect(child.metadata!.labels![LABEL_MANAGED_BY]).toBe('stimulated-peering');
        expect(child.metadata!.ownerReferences).toEqual([
          { apiVersion: 'groupsp.measutosh.dev/v1', kind: 'KindCustomHttp', name: 'kindcustomhttp-sample', uid: 'uid-1', controller: true, blockOwnerDeletion: true },
        ]);
      }
    });

    it('puts nothing in the pod template that would roll the pods when only the ConfigMap changes', () => {
      const changed = desiredChildren(cr, { ...spec, configMapData: { hostports: 'other,9090\n' } });
      expect(changed.Deployment).toEqual(deployment);
    });
  });

  it('is deterministic', () => {
    const { cr, spec } = customResource();
    expect(desiredChildren(cr, spec)).toEqual(desiredChildren(cr, spec));
  });

  it('gives two CRs in one namespace selectors that do not overlap', () => {
    const peerA = customResource('peer-a');
    const peerB = customResource('peer-b');
    const a = desiredChildren(peerA.cr, peerA.spec);
    const b = desiredChildren(peerB.cr, peerB.spec);
    expect(a.Deployment.spec!.selector.matchLabels![LABEL_INSTANCE]).not.toBe(b.Deployment.spec!.selector.matchLabels![LABEL_INSTANCE]);
  });

  it('uses the optional image, container port and resources', () => {
    const { cr, spec } = customResource('custom', { port: 9000, replicaCount: 1, image: 'registry.example/http:1.2', containerPort: 9090, resources: { limits: { memory: '64Mi', cpu: 1 } } });
    const container = desiredChildren(cr, spec).Deployment.spec!.template.spec!.containers[0]!;
    expect(container).toMatchObject({ image: 'registry.example/http:1.2', ports: [{ containerPort: 9090 }], resources: { limits: { memory: '64Mi', cpu: '1' } } });
  });
});

describe('names and labels of long CR names', () => {
  const long = `${'a'.repeat(60)}.example-${'b'.repeat(100)}`;

  it('keeps label values within 63 characters and distinct for names that differ only at the end', () => {
    const one = selectorLabels(`${long}-one`)[LABEL_INSTANCE]!;
    const two = selectorLabels(`${long}-two`)[LABEL_INSTANCE]!;
    expect(one.length).toBeLessThanOrEqual(63);
    expect(one).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
    expect(one).not.toBe(two);
  });

  it('derives a valid Service name (DNS-1035) from any CR name', () => {
    for (const name of [long, '1-starts-with-digit', 'has.dots']) {
      const service = workloadName(name);
      expect(service).toMatch(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
    }
    expect(workloadName('has.dots')).not.toBe(workloadName('has-dots'));
  });

  it('keeps the ConfigMap name within 253 characters', () => {
    expect(configMapName('x'.repeat(253)).length).toBeLessThanOrEqual(253);
  });

  it('leaves names that fit unchanged', () => {
    expect(fitName('short', 63)).toBe('short');
  });
});

describe('podSelector', () => {
  it('writes the selector labels as kubectl -l takes them', () => {
    expect(podSelector('sample')).toBe('app.kubernetes.io/name=http-server,app.kubernetes.io/instance=sample');
  });
});
