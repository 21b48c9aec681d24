import { describe, expect, it } from 'vitest';
import { DEFAULT_CONTAINER_PORT, hostportsProblems, parseSpec } from './kindcustomhttp.js';

describe('parseSpec', () => {
  it('accepts the original sample spec and fills in the new fields with the original behaviour, the image left to the operator', () => {
    const result = parseSpec({ port: 80, replicaCount: 2, configMapData: { hostports: 'localhost,8080\n' } });
    expect(result).toEqual({
      ok: true,
      spec: { port: 80, replicaCount: 2, configMapData: { hostports: 'localhost,8080\n' }, containerPort: DEFAULT_CONTAINER_PORT },
    });
  });

  it('accepts what the original CRD accepted: any int32 replica count, any number of keys, a value of 600 KB', () => {
    const configMapData = { ...Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`file-${i}.txt`, 'x'])), big: 'y'.repeat(600_000) };
    expect(parseSpec({ port: 80, replicaCount: 150, configMapData })).toMatchObject({ ok: true });
    expect(parseSpec({ port: 80, replicaCount: 2 ** 31 - 1 })).toMatchObject({ ok: true });
  });

  it('accepts a spec without configMapData, giving it an empty hostports', () => {
    const result = parseSpec({ port: 80, replicaCount: 0 });
    expect(result.ok && result.spec.configMapData).toEqual({ hostports: '' });
  });

  it('keeps a hostports the CR has', () => {
    const result = parseSpec({ port: 80, replicaCount: 0, configMapData: { hostports: 'a,1\n', other: 'x' } });
    expect(result.ok && result.spec.configMapData).toEqual({ hostports: 'a,1\n', other: 'x' });
  });

  describe('when the spec is invalid', () => {
    it.each([
      [{ port: 80 }, 'spec.replicaCount'],
      [{ port: 0, replicaCount: 1 }, 'spec.port'],
      [{ port: 65536, replicaCount: 1 }, 'spec.port'],
      [{ port: 80, replicaCount: -1 }, 'spec.replicaCount'],
      [{ port: 80, replicaCount: 2 ** 31 }, 'spec.replicaCount'],
      [{ port: 80, replicaCount: 1, configMapData: { 'not/a/file': 'x' } }, 'spec.configMapData.not/a/file'],
      [{ port: 80, replicaCount: 1, configMapData: { a: 'x'.repeat(600_000), b: 'y'.repeat(600_000) } }, 'spec.configMapData'],
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

    it('names the first ten problems and counts the rest', () => {
      const hostports = Array.from({ length: 4000 }, (_, i) => `bad line ${i}`).join('\n');

      const result = parseSpec({ port: 80, replicaCount: 1, configMapData: { hostports } });

      expect(!result.ok && result.message).toMatch(/^spec\.configMapData\.hostports: line 1 "bad line 0" .*line 10 "bad line 9".*; and 3990 more$/);
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
