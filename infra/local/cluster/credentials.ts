// The control plane's credentials, written once per `up`: the static bearer tokens (the admin's and
// the node components') and the service-account signing key pair. Certificates are pki.ts's.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { clusterFiles } from './layout.js';

/** `otherTokens`: more lines of the token file (token,user,uid,"groups"). */
export function writeCredentials(adminToken: string, otherTokens = ''): void {
  mkdirSync(clusterFiles.pki, { recursive: true });
  // The admin is in system:masters; the other control-plane components act as it too.
  writeFileSync(clusterFiles.tokens, `${adminToken},admin,admin-uid,"system:masters"\n${otherTokens}`, { mode: 0o600 });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(clusterFiles.serviceAccountKey, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
  writeFileSync(clusterFiles.serviceAccountPublicKey, publicKey.export({ type: 'spki', format: 'pem' }));
}
