import { describe, expect, it } from 'vitest';
import { checkSpec, chooseImage, defaultImagePolicy, imageAllowed, type ImagePolicy } from './images.js';

const sample = { port: 80, replicaCount: 2, configMapData: { hostports: 'localhost,8080\n' } };

describe('imageAllowed', () => {
  describe('with the defaults', () => {
    it.each([
      'measutosh/http-server',
      'measutosh/http-server:latest',
      'measutosh/http-server:v2',
      `measutosh/http-server@sha256:${'a'.repeat(64)}`,
      `measutosh/http-server:v2@sha256:${'b'.repeat(64)}`,
      'stimulated-peering/peer-server:0.1.0',
    ])('allows %s', (image) => {
      expect(imageAllowed(defaultImagePolicy, image)).toBe(true);
    });

    it.each([
      'evil/image:1',
      'measutosh/http-server-evil',
      'measutosh/http-server/../evil',
      'measutosh/http-serverx:1',
      'docker.io/measutosh/http-server',
      'registry.example/measutosh/http-server',
      'measutosh/http-server:',
      'stimulated-peering/peer-server-x:0.1.0',
    ])('refuses %s', (image) => {
      expect(imageAllowed(defaultImagePolicy, image)).toBe(false);
    });
  });

  it('reads an entry ending in / as a prefix, in : as any tag, and a pinned entry as exactly that', () => {
    const policy: ImagePolicy = { allowed: ['registry.example.com/team/', 'library/nginx:', 'stimulated-peering/peer-server:0.1.0'], defaultImage: 'library/nginx:1' };

    expect(imageAllowed(policy, 'registry.example.com/team/app:3')).toBe(true);
    expect(imageAllowed(policy, 'registry.example.com/other/app:3')).toBe(false);
    expect(imageAllowed(policy, 'library/nginx:1.27')).toBe(true);
    expect(imageAllowed(policy, 'library/nginx')).toBe(false);
    expect(imageAllowed(policy, 'stimulated-peering/peer-server:0.1.0')).toBe(true);
    expect(imageAllowed(policy, 'stimulated-peering/peer-server:0.2.0')).toBe(false);
  });
});

describe('chooseImage', () => {
  it('gives a CR that names no image the default', () => {
    expect(chooseImage({ ...defaultImagePolicy, defaultImage: 'stimulated-peering/peer-server:0.1.0' }, undefined)).toEqual({ ok: true, image: 'stimulated-peering/peer-server:0.1.0' });
  });

  it('refuses an image outside the allowed set, naming it and what is allowed', () => {
    const choice = chooseImage(defaultImagePolicy, 'evil/image:1');

    expect(choice).toEqual({ ok: false, message: expect.stringContaining('"evil/image:1" is not allowed') });
    expect(!choice.ok && choice.message).toContain('"measutosh/http-server"');
  });
});

describe('checkSpec', () => {
  it('resolves the original sample to the default image', () => {
    expect(checkSpec(sample, defaultImagePolicy)).toMatchObject({ ok: true, spec: { image: 'measutosh/http-server' } });
  });

  it('reports an invalid spec before the image', () => {
    expect(checkSpec({ ...sample, port: 0, image: 'evil/image:1' }, defaultImagePolicy)).toMatchObject({ ok: false, reason: 'InvalidSpec' });
  });

  it('reports a disallowed image as ImageNotAllowed', () => {
    expect(checkSpec({ ...sample, image: 'evil/image:1' }, defaultImagePolicy)).toMatchObject({ ok: false, reason: 'ImageNotAllowed' });
  });
});
