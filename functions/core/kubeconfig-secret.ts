// For clusters other than EKS: a kubeconfig kept in AWS Secrets Manager (as the secret's string).
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export async function readKubeconfigSecret(secretId: string, client = new SecretsManagerClient({})): Promise<string> {
  const secret = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  const kubeconfig = secret.SecretString ?? (secret.SecretBinary ? Buffer.from(secret.SecretBinary).toString('utf8') : undefined);
  if (!kubeconfig) throw new Error(`secret ${secretId} holds no kubeconfig`);
  return kubeconfig;
}
