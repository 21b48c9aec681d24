import { describe, expect, it } from 'vitest';
import { desiredChildren as wantedChildren, type ChildObject, type Children } from './children.js';
import { ADOPT_ANNOTATION, changedFields, claimOf, driftOf, exactFieldsPatch } from './drift.js';
import { checkSpec, defaultImagePolicy } from './images.js';
import type { KindCustomHttp } from './kindcustomhttp.js';

/** Every kind these tests look at is one every CR has. */
const desiredChildren = (...args: Parameters<typeof wantedChildren>) => wantedChildren(...args) as Required<Children>;

const cr: KindCustomHttp = {
  apiVersion: 'groupsp.measutosh.dev/v1',
  kind: 'KindCustomHttp',
  metadata: { name: 'sample', namespace: 'peerns', uid: 'uid-1', generation: 1 },
  spec: { port: 80, replicaCount: 2, configMapData: { hostports: 'localhost,8080\n' } },
};
const parsed = checkSpec(cr.spec, defaultImagePolicy);
if (!parsed.ok) throw new Error(parsed.message);
const desired = desiredChildren(cr, parsed.spec);
const clone = <T>(value: T): T => structuredClone(value);

describe('changedFields', () => {
  const wanted = { spec: { replicas: 2, template: { containers: [{ name: 'c', image: 'a' }] } }, data: { hostports: 'x,1' } };

  it('finds nothing when the live object holds every desired value, defaults and all', () => {
    const live = { spec: { replicas: 2, strategy: 'RollingUpdate', template: { containers: [{ name: 'c', image: 'a', imagePullPolicy: 'IfNotPresent' }] } }, data: { hostports: 'x,1' }, status: { a: 1 } };
    expect(changedFields(wanted, live)).toEqual([]);
  });

  it('names each scalar that differs by its path', () => {
    const live = { spec: { replicas: 5, template: { containers: [{ name: 'c', image: 'a' }] } }, data: { hostports: 'y,2' } };
    expect(changedFields(wanted, live)).toEqual(['spec.replicas', 'data.hostports']);
  });

  it('names a list as a whole when one of its items differs', () => {
    const live = { spec: { replicas: 2, template: { containers: [{ name: 'c', image: 'b' }] } }, data: { hostports: 'x,1' } };
    expect(changedFields(wanted, live)).toEqual(['spec.template.containers']);
  });

  it('names fields the live object lacks', () => {
    expect(changedFields(wanted, { spec: { replicas: 2 } })).toEqual(['spec.template.containers', 'data.hostports']);
  });

  it('compares resource quantities by value, as the apiserver rewrites them in canonical form', () => {
    const container = (cpu: string, memory: string) => ({ spec: { containers: [{ resources: { limits: { cpu, memory } } }] } });
    expect(changedFields(container('0.5', '1024Mi'), container('500m', '1Gi'))).toEqual([]);
    expect(changedFields(container('0.5', '1Gi'), container('600m', '1Gi'))).toEqual(['spec.containers']);
  });
});

describe('exactFieldsPatch', () => {
  it('deletes selector entries another manager left on a Service', () => {
    expect(exactFieldsPatch('Service', { spec: { selector: { mine: 'a' } } }, { spec: { selector: { mine: 'a', app: 'shared' } } })).toEqual({ spec: { selector: { app: null } } });
  });

  it('replaces a Service’s ports whole when someone added one', () => {
    const ports = [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }];
    const live = { spec: { ports: [...ports, { name: 'db', port: 5432, targetPort: 5432, protocol: 'TCP' }] } };
    expect(exactFieldsPatch('Service', { spec: { ports } }, live)).toEqual({ spec: { ports } });
  });

  it('deletes ConfigMap keys the CR no longer has', () => {
    expect(exactFieldsPatch('ConfigMap', { data: { hostports: 'x,1' } }, { data: { hostports: 'x,1', old: 'y' } })).toEqual({ data: { old: null } });
  });

  it('asks for nothing when the live fields hold only what is desired, defaults added', () => {
    expect(exactFieldsPatch('ConfigMap', { data: { a: '1' } }, { data: { a: '2' } })).toBeUndefined();
    expect(exactFieldsPatch('Service', { spec: { ports: [{ port: 80 }] } }, { spec: { ports: [{ port: 80, nodePort: 0 }] } })).toBeUndefined();
    expect(exactFieldsPatch('Deployment', {}, { spec: {} })).toBeUndefined();
  });
});

describe('driftOf', () => {
  it('finds no drift in a child as the apiserver returns what was applied, defaults added', () => {
    const live = clone(desired.Deployment) as ChildObject<'Deployment'>;
    live.metadata!.resourceVersion = '7';
    live.spec!.template.spec!.containers[0]!.terminationMessagePath = '/dev/termination-log';
    live.status = { replicas: 2 };
    expect(driftOf('Deployment', desired.Deployment, live)).toEqual([]);
  });

  it('names an owned field changed by hand', () => {
    const live = clone(desired.Deployment);
    live.spec!.replicas = 5;
    expect(driftOf('Deployment', desired.Deployment, live)).toEqual(['spec.replicas']);
  });

  it('names a map holding stray entries', () => {
    const live = clone(desired.ConfigMap);
    live.data = { ...live.data, extra: 'file' };
    expect(driftOf('ConfigMap', desired.ConfigMap, live)).toEqual(['data']);
  });

  it('names a missing or different owner reference', () => {
    const live = clone(desired.Service);
    live.metadata!.ownerReferences = [{ ...live.metadata!.ownerReferences![0]!, uid: 'uid-of-an-earlier-cr' }];
    expect(driftOf('Service', desired.Service, live)).toEqual(['metadata.ownerReferences']);
  });
});

describe('claimOf', () => {
  const original = { app: 'measutosh-http-server' };
  const foreignService = (metadata: object, selector: Record<string, string> = { app: 'mine' }): ChildObject<'Service'> => ({ metadata: { name: 'sample', ...metadata }, spec: { selector } });

  it('takes what is absent, and what this CR controls', () => {
    expect(claimOf('Service', undefined, cr, {})).toEqual({ kind: 'absent' });
    expect(claimOf('Service', desired.Service, cr, {})).toEqual({ kind: 'ours' });
  });

  it('takes over the children of an earlier CR of the same name, and its own orphaned children', () => {
    const earlier = clone(desired.Service);
    earlier.metadata!.ownerReferences![0]!.uid = 'uid-0';
    const orphaned = clone(desired.Service);
    delete orphaned.metadata!.ownerReferences;
    expect(claimOf('Service', earlier, cr, {})).toEqual({ kind: 'ours' });
    expect(claimOf('Service', orphaned, cr, {})).toEqual({ kind: 'ours' });
  });

  it('leaves alone an object another controller controls', () => {
    const controlled = foreignService({ ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'x', uid: 'u', controller: true }] });
    expect(claimOf('Service', controlled, cr, {})).toMatchObject({ kind: 'foreign' });
  });

  it('leaves alone a user’s own object with no controller', () => {
    expect(claimOf('Service', foreignService({}), cr, {})).toMatchObject({ kind: 'foreign' });
    expect(claimOf('ConfigMap', { metadata: { name: 'sample-configmap' }, data: { important: 'x' } }, cr, {})).toMatchObject({ kind: 'foreign' });
  });

  it('adopts what the original operator made, recognised by its shared selector', () => {
    const deployment: ChildObject<'Deployment'> = { metadata: { name: 'sample' }, spec: { selector: { matchLabels: original }, template: {} } };
    const configMap: ChildObject<'ConfigMap'> = { metadata: { name: 'sample-configmap' }, data: { hostports: 'a,1' } };
    expect(claimOf('Deployment', deployment, cr, {})).toMatchObject({ kind: 'adoptable' });
    expect(claimOf('Service', foreignService({}, original), cr, {})).toMatchObject({ kind: 'adoptable' });
    expect(claimOf('ConfigMap', configMap, cr, { Deployment: deployment })).toMatchObject({ kind: 'adoptable' });
  });

  it('adopts a user’s object when the CR asks for it', () => {
    const asking = { ...cr, metadata: { ...cr.metadata, annotations: { [ADOPT_ANNOTATION]: 'true' } } };
    expect(claimOf('Service', foreignService({}), asking, {})).toMatchObject({ kind: 'adoptable' });
  });
});
