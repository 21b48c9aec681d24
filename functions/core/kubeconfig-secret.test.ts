import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { readKubeconfigSecret } from './kubeconfig-secret.js';

const kubeconfig = 'apiVersion: v1\nkind: Config\n';

/** A client that answers GetSecretValue with `output` and records what it was asked. */
function clientAnswering(output: object) {
  const asked: unknown[] = [];
  const client = {
    send: async (command: GetSecretValueCommand) => {
      asked.push(command.input);
      return output;
    },
  } as unknown as SecretsManagerClient;
  return { client, asked };
}

describe('readKubeconfigSecret', () => {
  describe('when the secret holds a string', () => {
    it('returns it, having asked for the secret by the id it was given', async () => {
      const { client, asked } = clientAnswering({ SecretString: kubeconfig });

      const result = await readKubeconfigSecret('arn:aws:secretsmanager:eu-west-1:123456789012:secret:kc-AbCdEf', client);

      expect(result).toBe(kubeconfig);
      expect(asked).toEqual([{ SecretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kc-AbCdEf' }]);
    });
  });

  describe('when the secret holds binary data', () => {
    it('decodes it as UTF-8', async () => {
      const { client } = clientAnswering({ SecretBinary: new TextEncoder().encode(kubeconfig) });

      expect(await readKubeconfigSecret('kc', client)).toBe(kubeconfig);
    });
  });

  describe('when the secret is empty', () => {
    it('fails naming the secret', async () => {
      const { client } = clientAnswering({});

      await expect(readKubeconfigSecret('kc', client)).rejects.toThrow('secret kc holds no kubeconfig');
    });
  });
});
