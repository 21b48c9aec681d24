// Bearer tokens for an EKS cluster, minted from the function's IAM role the way
// `aws eks get-token` does: a presigned STS GetCallerIdentity URL that names the cluster in the
// signed x-k8s-aws-id header, base64url-encoded behind the prefix `k8s-aws-v1.`.
import { Sha256 } from '@aws-crypto/sha256-js';
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { TokenSource } from './cluster-endpoint.js';

export const TOKEN_PREFIX = 'k8s-aws-v1.';
/** EKS accepts a token for 15 minutes after it was signed. */
export const TOKEN_LIFETIME_MS = 15 * 60_000;
/** The presigned URL itself only has to outlive the request that carries it. */
const PRESIGN_EXPIRES_SECONDS = 60;

export interface EksToken {
  token: string;
  expiresAt: Date;
}

export async function buildEksToken(options: {
  clusterName: string;
  region: string;
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  now: Date;
}): Promise<EksToken> {
  const hostname = `sts.${options.region}.amazonaws.com`;
  const signer = new SignatureV4({ credentials: options.credentials, region: options.region, service: 'sts', sha256: Sha256 });
  const request = new HttpRequest({
    method: 'GET',
    protocol: 'https:',
    hostname,
    path: '/',
    query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    headers: { host: hostname, 'x-k8s-aws-id': options.clusterName },
  });
  const signed = await signer.presign(request, { expiresIn: PRESIGN_EXPIRES_SECONDS, signingDate: options.now });
  const query = Object.entries(signed.query ?? {})
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`)
    .join('&');
  const url = `https://${hostname}/?${query}`;
  return {
    token: TOKEN_PREFIX + Buffer.from(url).toString('base64url'),
    expiresAt: new Date(options.now.getTime() + TOKEN_LIFETIME_MS),
  };
}

/** Caches one token and mints the next before the current one runs out. */
export class EksTokenSource implements TokenSource {
  private current: EksToken | undefined;
  private pending: Promise<EksToken> | undefined;
  private readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  private readonly now: () => Date;
  private readonly refreshBeforeMs: number;

  constructor(
    private readonly options: {
      clusterName: string;
      region: string;
      credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
      now?: () => Date;
      /** How long before expiry a token is replaced; 5 minutes leaves room for slow requests and clock skew. */
      refreshBeforeMs?: number;
    },
  ) {
    // Lambda hands a function its role's credentials in the environment.
    this.credentials = options.credentials ?? fromEnv();
    this.now = options.now ?? (() => new Date());
    this.refreshBeforeMs = options.refreshBeforeMs ?? 5 * 60_000;
  }

  async token(): Promise<string> {
    const now = this.now();
    if (this.current && now.getTime() < this.current.expiresAt.getTime() - this.refreshBeforeMs) return this.current.token;
    // Concurrent callers share one signing.
    this.pending ??= buildEksToken({ clusterName: this.options.clusterName, region: this.options.region, credentials: this.credentials, now }).finally(() => {
      this.pending = undefined;
    });
    this.current = await this.pending;
    return this.current.token;
  }

  /** The API server refused `token` (a clock off by minutes): the next caller signs a new one. */
  rejected(token: string): boolean {
    if (this.current?.token === token) this.current = undefined;
    return true;
  }
}
