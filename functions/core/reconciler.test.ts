import { describe, expect, it } from 'vitest';
import { changedFields } from './reconciler.js';

describe('changedFields', () => {
  const desired = { spec: { replicas: 2, template: { containers: [{ name: 'c', image: 'a' }] } }, data: { hostports: 'x,1' } };

  it('finds nothing when the live object holds every desired value, defaults and all', () => {
    const live = { spec: { replicas: 2, strategy: 'RollingUpdate', template: { containers: [{ name: 'c', image: 'a', imagePullPolicy: 'IfNotPresent' }] } }, data: { hostports: 'x,1' }, status: { a: 1 } };
    expect(changedFields(desired, live)).toEqual([]);
  });

  it('names each scalar that differs by its path', () => {
    const live = { spec: { replicas: 5, template: { containers: [{ name: 'c', image: 'a' }] } }, data: { hostports: 'y,2' } };
    expect(changedFields(desired, live)).toEqual(['spec.replicas', 'data.hostports']);
  });

  it('names a list as a whole when one of its items differs', () => {
    const live = { spec: { replicas: 2, template: { containers: [{ name: 'c', image: 'b' }] } }, data: { hostports: 'x,1' } };
    expect(changedFields(desired, live)).toEqual(['spec.template.containers']);
  });

  it('names fields the live object lacks', () => {
    expect(changedFields(desired, { spec: { replicas: 2 } })).toEqual(['spec.template.containers', 'data.hostports']);
  });
});
