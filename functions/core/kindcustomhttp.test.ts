import { describe, expect, it } from 'vitest';
import { DEFAULT_CONTAINER_PORT, DEFAULT_IMAGE, hostportsProblems, parseSpec } from './kindcustomhttp.js';

describe('parseSpec', () => {
  it('accepts the original sample spec and fills in the new fields with the original behaviour', () => {
    const result = parseSpec({ port: 80, replicaCount: 2, configMapData: { hostports: 'localhost,8080\n' } });
    expect(result).toEqual({
      ok: true,
      spec: { port: 80, replicaCount: 2, configMapData: { hostports: 'localhost,8080\n' }, image: DEFAULT_IMAGE, containerPort: DEFAULT_CONTAINER_PORT },
    });
  });

  it('accepts a spec without configMapData', () => {
    expect(parseSpec({ port: 80, replicaCount: 0 })).toMatchObject({ ok: true, spec: { configMapData: {} } });
  });

  describe('when the spec is invalid', () => {
    it.each([
      [{ port: 80 }, 'spec.replicaCount'],
      [{ port: 0, replicaCount: 1 }, 'spec.port'],
      [{ port: 65536, replicaCount: 1 }, 'spec.port'],
      [{ port: 80, replicaCount: -1 }, 'spec.replicaCount'],
      [{ port: 80, replicaCount: 1000 }, 'spec.replicaCount'],
      [{ port: 80, replicaCount: 1.5 }, 'spec.replicaCount'],
      [{ port: '80', replicaCount: 1 }, 'spec.port'],
      [{ port: 80, replicaCount: 1, configMapData: { hostports: 'localhost:8080' } }, 'spec.configMapData.hostports'],
      [{ port: 80, replicaCount: 1, image: 'has space' }, 'spec.image'],
      [{ port: 80, replicaCount: 1, resources: { limits: { memory: 'lots' } } }, 'spec.resources.limits.memory'],
    ])('rejects %j naming %s', (spec, path) => {
      const result = parseSpec(spec);
      expect(result.ok).toBe(false);
      expect(!result.ok && result.message).toContain(path);
    });

    it('lists every problem in one message', () => {
      const result = parseSpec({ port: 0, replicaCount: -1 });
      expect(!result.ok && result.message).toMatch(/spec\.replicaCount.*spec\.port|spec\.port.*spec\.replicaCount/);
    });

    it('rejects a missing spec', () => {
      expect(parseSpec(undefined).ok).toBe(false);
    });
  });
});

describe('hostportsProblems', () => {
  it('accepts host,port lines, blank lines and a trailing newline', () => {
    expect(hostportsProblems('localhost,8080\n\npeer-1.peerns.svc.cluster.local,80\n10.0.0.7,65535\n')).toEqual([]);
  });

  it.each(['localhost', 'localhost,', ',80', 'localhost,0', 'localhost,65536', 'local host,80', 'a,b,c'])('rejects %j', (line) => {
    expect(hostportsProblems(`ok,1\n${line}`)).toEqual([expect.stringContaining('line 2')]);
  });
});
