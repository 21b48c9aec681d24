// The control plane's credentials, written once per `up`: the admin's static bearer token and the
// service-account signing key pair. The apiserver makes its own serving certificate.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { clusterFiles } from './layout.js';

export function writeCredentials(adminToken: string): void {
  mkdirSync(clusterFiles.pki, { recursive: true });
  // The admin is in system:masters; the other components act as it too.
  writeFileSync(clusterFiles.tokens, `${adminToken},admin,admin-uid,"system:masters"\n`, { mode: 0o600 });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(clusterFiles.serviceAccountKey, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
  writeFileSync(clusterFiles.serviceAccountPublicKey, publicKey.export({ type: 'spki', format: 'pem' }));
}
