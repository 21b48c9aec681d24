import { describe, expect, it } from 'vitest';
import { parseHostports, peerUrl } from './hostports.js';

describe('parseHostports', () => {
  it('reads one host,port per line, trimmed, skipping blank lines', () => {
    const { peers, invalid } = parseHostports('  a.example,8080  \n\n\t\nb , 81\r\nlocalhost,8080\n');

    expect(peers).toEqual([
      { host: 'a.example', port: '8080' },
      { host: 'b', port: '81' },
      { host: 'localhost', port: '8080' },
    ]);
    expect(invalid).toEqual([]);
  });

  it('reports a line without a comma and keeps the others', () => {
    const { peers, invalid } = parseHostports('no-comma-here\nok,1\n');

    expect(invalid).toEqual(['no-comma-here']);
    expect(peers).toEqual([{ host: 'ok', port: '1' }]);
  });

  it('leaves the port unchecked, as the original did', () => {
    expect(parseHostports('svc,http').peers).toEqual([{ host: 'svc', port: 'http' }]);
  });

  it('builds the URL the original pinged', () => {
    expect(peerUrl({ host: 'svc.ns.svc.cluster.local', port: '8080' })).toBe('http://svc.ns.svc.cluster.local:8080/ping');
  });
});
