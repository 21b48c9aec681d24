import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../core/settings.js';
import { readForwarderConfig } from './config.js';

const minimal = { EVENT_BUS_NAME: 'bus', AWS_REGION: 'eu-west-1', KUBECONFIG: '/tmp/kubeconfig', POD_NAMESPACE: 'forwarder' };

describe('readForwarderConfig', () => {
  describe('when the required settings are present', () => {
    it('fills in the defaults and splits the namespaces', () => {
      const config = readForwarderConfig({ ...minimal, WATCH_NAMESPACES: 'a, b' });

      expect(config.WATCH_NAMESPACES).toEqual(['a', 'b']);
      expect(config.QUEUE_CAPACITY).toBe(1_000);
      expect(config.LEADER_ELECTION).toBe(true);
      expect(config.CLUSTER_ACCESS).toBe('kubeconfig');
    });
  });

  describe('when settings are missing or malformed', () => {
    it('names every problem in one error', () => {
      const read = () => readForwarderConfig({ KUBECONFIG: '/tmp/k', WATCH_NAMESPACES: 'Not_A_Namespace', EVENTBRIDGE_ENDPOINT: 'nope' });

      expect(read).toThrow(ConfigurationError);
      expect(read).toThrow(/EVENT_BUS_NAME: is required.*AWS_REGION: is required.*EVENTBRIDGE_ENDPOINT.*WATCH_NAMESPACES: must be namespace names/);
    });

    it('asks for the Lease namespace when leader election is on', () => {
      const { POD_NAMESPACE: _, ...withoutNamespace } = minimal;

      expect(() => readForwarderConfig(withoutNamespace)).toThrow(/POD_NAMESPACE: is required for leader election/);
    });
  });
});
