import { describe, expect, it } from 'vitest';
import { readFunctionEnvironment } from './environment.js';
import { ConfigurationError } from './settings.js';

const base = { KUBECONFIG: '/tmp/kubeconfig' };

describe('readFunctionEnvironment', () => {
  it('gives the operator the default images and every namespace when nothing is set', () => {
    expect(readFunctionEnvironment(base).operator).toEqual({
      images: { allowed: ['measutosh/http-server', 'stimulated-peering/peer-server'], defaultImage: 'measutosh/http-server' },
      namespaces: [],
    });
  });

  it('reads ALLOWED_IMAGES, DEFAULT_IMAGE and WATCH_NAMESPACES as comma lists, empty entries dropped', () => {
    const env = readFunctionEnvironment({ ...base, ALLOWED_IMAGES: 'registry.example/team/, stimulated-peering/peer-server:0.1.0,', DEFAULT_IMAGE: 'stimulated-peering/peer-server:0.1.0', WATCH_NAMESPACES: 'team-a, team-b' });

    expect(env.operator).toEqual({ images: { allowed: ['registry.example/team/', 'stimulated-peering/peer-server:0.1.0'], defaultImage: 'stimulated-peering/peer-server:0.1.0' }, namespaces: ['team-a', 'team-b'] });
  });

  it('refuses to start with a DEFAULT_IMAGE that ALLOWED_IMAGES does not allow, naming it', () => {
    expect(() => readFunctionEnvironment({ ...base, DEFAULT_IMAGE: 'evil/image:1' })).toThrow(ConfigurationError);
    expect(() => readFunctionEnvironment({ ...base, DEFAULT_IMAGE: 'evil/image:1' })).toThrow(/DEFAULT_IMAGE: is not allowed by ALLOWED_IMAGES/);
  });

  it('refuses a WATCH_NAMESPACES entry that is not a namespace name', () => {
    expect(() => readFunctionEnvironment({ ...base, WATCH_NAMESPACES: 'team-a,Team_B' })).toThrow(/WATCH_NAMESPACES/);
  });
});
