// The cluster's certificates, made with openssl once per `up`: a CA, the apiserver's serving
// certificate (valid for loopback, the address pods and the node reach it on, and the `kubernetes`
// Service), and the apiserver's client certificate towards kubelets. Node.js can make keys but not
// certificates; openssl is on every Debian machine.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterFiles } from './layout.js';

/** The first address of the Service range: the `kubernetes` Service's ClusterIP. */
export const kubernetesServiceIp = '10.96.0.1';

const days = '3650';
const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(args: string[]): void {
  // An empty configuration: only the extensions given here, none of the system default's.
  const config = join(clusterFiles.pki, 'openssl.cnf');
  writeFileSync(config, '[req]\ndistinguished_name = dn\n[dn]\n');
  execFileSync('openssl', ['req', '-config', config, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function signed(cert: string, key: string, subject: string, extensions: string[]): void {
  openssl(['-x509', ...ecKey, '-keyout', key, '-out', cert, '-days', days, '-subj', subject, '-CA', clusterFiles.ca, '-CAkey', clusterFiles.caKey,
    '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment',
    ...extensions.flatMap((extension) => ['-addext', extension])]);
}

/** Writes the CA and the apiserver's certificates; `apiserverIp` is the address it listens on. */
export function writeCertificates(apiserverIp: string): void {
  mkdirSync(clusterFiles.pki, { recursive: true });
  openssl(['-x509', ...ecKey, '-keyout', clusterFiles.caKey, '-out', clusterFiles.ca, '-days', days, '-subj', '/CN=stimulated-peering-local-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature']);
  const names = ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'];
  const san = [...names.map((name) => `DNS:${name}`), ...['127.0.0.1', apiserverIp, kubernetesServiceIp].map((ip) => `IP:${ip}`)].join(',');
  signed(clusterFiles.apiserverCertificate, clusterFiles.apiserverKey, '/CN=kube-apiserver', [`subjectAltName=${san}`, 'extendedKeyUsage=serverAuth']);
  // system:masters: the kubelet authorizes the apiserver's calls (logs, exec) by asking it back.
  signed(clusterFiles.apiserverKubeletClientCertificate, clusterFiles.apiserverKubeletClientKey, '/O=system:masters/CN=kube-apiserver-kubelet-client', [
    'extendedKeyUsage=clientAuth',
  ]);
}
