// The control plane's credentials, written once per `up`: the static bearer tokens (the admin's,
// the functions' identity's and the node components') and the service-account signing key pair.
// Certificates are pki.ts's.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { clusterFiles } from './layout.js';

/**
 * The user the local functions act as, in the group the access entries put the functions' IAM
 * roles in on EKS (serverless.yml's kubernetesGroup, infra/reconciler/clusterrolebinding.yaml), so
 * that infra/reconciler's RBAC and admission policy hold them locally as they do on AWS.
 */
export const reconcilerUser = { name: 'stimulated-peering-reconciler', group: 'stimulated-peering:reconciler' } as const;

/** `otherTokens`: more lines of the token file (token,user,uid,"groups"). */
export function writeCredentials(tokens: { admin: string; reconciler: string }, otherTokens = ''): void {
  mkdirSync(clusterFiles.pki, { recursive: true });
  // The admin is in system:masters; the other components act as it too.
  const lines = [`${tokens.admin},admin,admin-uid,"system:masters"`, `${tokens.reconciler},${reconcilerUser.name},reconciler-uid,"${reconcilerUser.group}"`];
  writeFileSync(clusterFiles.tokens, `${lines.join('\n')}\n${otherTokens}`, { mode: 0o600 });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(clusterFiles.serviceAccountKey, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
  writeFileSync(clusterFiles.serviceAccountPublicKey, publicKey.export({ type: 'spki', format: 'pem' }));
}
