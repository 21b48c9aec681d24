import type { AwsCredentialIdentity } from '@smithy/types';
import { describe, expect, it } from 'vitest';
import { buildEksToken, EksTokenSource, TOKEN_LIFETIME_MS, TOKEN_PREFIX } from './eks-token.js';

// AWS's documentation example key; the session token makes the signer add X-Amz-Security-Token.
const credentials: AwsCredentialIdentity = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'session-token-example',
};
const signedAt = new Date('2026-01-02T03:04:05Z');
const known = { clusterName: 'my-cluster', region: 'eu-west-1', credentials, now: signedAt };

/**
 * What `aws eks get-token --cluster-name my-cluster --region eu-west-1` signs for these
 * credentials with its clock frozen at `signedAt` (botocore 1.43, awscli's TokenGenerator).
 */
const AWS_CLI_SIGNATURE = 'd28111e4eeb6bcfbb061eb584cb9776410aa34375ef2fd4345b53a26459105f6';

function decode(token: string): URL {
  return new URL(Buffer.from(token.slice(TOKEN_PREFIX.length), 'base64url').toString('utf8'));
}

function minutes(n: number): number {
  return n * 60_000;
}

describe('buildEksToken', () => {
  describe('when given fixed credentials and a fixed date', () => {
    it('computes the signature the AWS CLI computes for the same inputs', async () => {
      const { token } = await buildEksToken(known);

      expect(decode(token).searchParams.get('X-Amz-Signature')).toBe(AWS_CLI_SIGNATURE);
    });

    it('returns the same token every time', async () => {
      const first = await buildEksToken(known);
      const second = await buildEksToken(known);

      expect(second).toEqual(first);
    });

    it('encodes the URL as base64url without padding behind the k8s-aws-v1. prefix', async () => {
      const { token } = await buildEksToken(known);

      expect(token.startsWith(TOKEN_PREFIX)).toBe(true);
      expect(token.slice(TOKEN_PREFIX.length)).toMatch(/^[A-Za-z0-9_-]+$/);
    });

    it('presigns GetCallerIdentity on the regional STS endpoint for 60 seconds', async () => {
      const url = decode((await buildEksToken(known)).token);

      expect(url.origin).toBe('https://sts.eu-west-1.amazonaws.com');
      expect(url.pathname).toBe('/');
      expect(url.searchParams.get('Action')).toBe('GetCallerIdentity');
      expect(url.searchParams.get('Version')).toBe('2011-06-15');
      expect(url.searchParams.get('X-Amz-Expires')).toBe('60');
      expect(url.searchParams.get('X-Amz-Date')).toBe('20260102T030405Z');
      expect(url.searchParams.get('X-Amz-Credential')).toBe('AKIDEXAMPLE/20260102/eu-west-1/sts/aws4_request');
      expect(url.searchParams.get('X-Amz-Security-Token')).toBe('session-token-example');
    });

    it('signs the x-k8s-aws-id header, which binds the token to the cluster', async () => {
      const url = decode((await buildEksToken(known)).token);

      expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toEqual(['host', 'x-k8s-aws-id']);
    });

    it('signs a different token for another cluster', async () => {
      const ours = await buildEksToken(known);
      const theirs = await buildEksToken({ ...known, clusterName: 'other-cluster' });

      expect(decode(theirs.token).searchParams.get('X-Amz-Signature')).not.toBe(decode(ours.token).searchParams.get('X-Amz-Signature'));
    });

    it('expires 15 minutes after it was signed', async () => {
      const { expiresAt } = await buildEksToken(known);

      expect(expiresAt.getTime() - signedAt.getTime()).toBe(TOKEN_LIFETIME_MS);
      expect(TOKEN_LIFETIME_MS).toBe(minutes(15));
    });
  });
});

describe('EksTokenSource', () => {
  /** A source on a clock the test moves, counting how often it signs (once per credentials lookup). */
  function sourceAt(start: Date, refreshBeforeMs?: number) {
    const clock = { now: start };
    let signings = 0;
    const source = new EksTokenSource({
      clusterName: known.clusterName,
      region: known.region,
      credentials: async () => {
        signings++;
        return credentials;
      },
      now: () => clock.now,
      refreshBeforeMs,
    });
    return {
      source,
      signings: () => signings,
      advance: (ms: number) => (clock.now = new Date(clock.now.getTime() + ms)),
    };
  }

  describe('when the current token is far from expiry', () => {
    it('hands out the same token without signing again', async () => {
      const { source, signings, advance } = sourceAt(signedAt);
      const first = await source.token();

      advance(minutes(9));
      const second = await source.token();

      expect(second).toBe(first);
      expect(signings()).toBe(1);
    });
  });

  describe('when the current token is within the refresh margin of its expiry', () => {
    it('signs a new token before the old one runs out', async () => {
      const { source, signings, advance } = sourceAt(signedAt);
      const first = await source.token();

      advance(minutes(10));
      const second = await source.token();

      expect(second).not.toBe(first);
      expect(decode(second).searchParams.get('X-Amz-Date')).toBe('20260102T031405Z');
      expect(signings()).toBe(2);
    });

    it('honours a refresh margin it was given', async () => {
      const { source, signings, advance } = sourceAt(signedAt, minutes(1));
      await source.token();

      advance(minutes(13));
      await source.token();
      advance(minutes(1));
      await source.token();

      expect(signings()).toBe(2);
    });
  });

  describe('when many callers ask at once', () => {
    it('signs once for all of them', async () => {
      const { source, signings } = sourceAt(signedAt);

      const tokens = await Promise.all(Array.from({ length: 10 }, () => source.token()));

      expect(new Set(tokens).size).toBe(1);
      expect(signings()).toBe(1);
    });
  });

  describe('when signing fails', () => {
    it('fails the callers and signs anew on the next call', async () => {
      let fail = true;
      const source = new EksTokenSource({
        clusterName: known.clusterName,
        region: known.region,
        credentials: async () => {
          if (fail) throw new Error('no credentials yet');
          return credentials;
        },
        now: () => signedAt,
      });

      await expect(source.token()).rejects.toThrow('no credentials yet');
      fail = false;

      expect(decode(await source.token()).searchParams.get('X-Amz-Signature')).toBe(AWS_CLI_SIGNATURE);
    });
  });
});
