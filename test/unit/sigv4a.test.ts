// SigV4A (AWS4-ECDSA-P256-SHA256): the key pair derived from AKIDEXAMPLE matches the public key
// AWS's test suite publishes (aws-c-auth v4a), the suite's get-vanilla string to sign is rebuilt, and a
// request signed by @smithy/signature-v4a with the surrogate is re-signed for the real key.
import { describe, expect, it } from 'vitest';
import { SignatureV4a } from '@smithy/signature-v4a';
import { Sha256 } from '../../src/sigv4/crypto.ts';
import { sigV4aKeys, signSigV4a, verifySigV4a } from '../../src/sigv4/sigv4a.ts';
import { canonicalCandidates, renderCanonicalRequest } from '../../src/sigv4/canonical.ts';
import { findSigV4, type SigV4Auth } from '../../src/sigv4/parse.ts';
import { stringToSign, verifySurrogateSignature } from '../../src/sigv4/verify.ts';
import { resignRequest } from '../../src/sigv4/resign.ts';
import { SluiceError } from '../../src/errors/codes.ts';
import type { HeaderMap } from '../../src/http/header-map.ts';

const SUITE = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const SURROGATE = { accessKeyId: 'AKIASLUICEEXAMPLE000', secretAccessKey: 'sluice-example-surrogate-secret' };
const REAL = { accessKeyId: 'AKIAREALKEYEXAMPLE00', secretAccessKey: 'real-secret-access-key-example-000000000', sessionToken: 'REAL-TOKEN' };
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function parsed(headers: HeaderMap, target: string): SigV4Auth {
  const a = findSigV4(headers, target);
  if (a === undefined || 'error' in a) throw new Error(`parse: ${JSON.stringify(a)}`);
  return a;
}

describe('SigV4A', () => {
  it('derives the published public key for AKIDEXAMPLE', () => {
    const jwk = sigV4aKeys(SUITE.accessKeyId, SUITE.secretAccessKey).publicKey.export({ format: 'jwk' });
    expect(Buffer.from(jwk.x as string, 'base64url').toString('hex')).toBe('b6618f6a65740a99e650b33b6b4b5bd0d43b176d721a3edfea7e7d2d56d936b1');
    expect(Buffer.from(jwk.y as string, 'base64url').toString('hex')).toBe('865ed22a7eadc9c5cb9d2cbaca1b3699139fedc5043dc6661864218330c8e518');
  });

  it('rebuilds the suite\'s get-vanilla string to sign (published hash cf59db42…) and verifies a signature over it', async () => {
    // (The ECDSA signatures in the suite's signed-request files are random per signing; the
    // published public key and string to sign are what a verifier can be checked against.)
    const probe: HeaderMap = {
      'x-amz-content-sha256': EMPTY, 'x-amz-date': '20150830T123600Z', 'x-amz-region-set': 'us-east-1',
      authorization: `AWS4-ECDSA-P256-SHA256 Credential=AKIDEXAMPLE/20150830/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-region-set, Signature=${'00'.repeat(70)}`,
    };
    const auth = parsed(probe, '/');
    expect(auth).toMatchObject({ algorithm: 'AWS4-ECDSA-P256-SHA256', scope: { date: '20150830', region: undefined, service: 'service' } });
    const candidates = canonicalCandidates({ method: 'GET', target: '/', authority: 'example.amazonaws.com', headers: probe }, { service: 'service', signedHeaders: auth.signedHeaders, presigned: false, payloadHashes: [EMPTY] });
    if ('error' in candidates) throw new Error(candidates.error);
    const sts = stringToSign(auth.amzDate, auth.scope, renderCanonicalRequest(candidates[0] as never), auth.algorithm);
    expect(sts).toBe('AWS4-ECDSA-P256-SHA256\n20150830T123600Z\n20150830/service/aws4_request\ncf59db423e841c8b7e3444158185aa261b724a5c27cbe762676f3eed19f4dc02');
    const signed = { ...probe, authorization: String(probe.authorization).replace(/Signature=.*/, `Signature=${signSigV4a(sigV4aKeys(SUITE.accessKeyId, SUITE.secretAccessKey), sts)}`) };
    const good = parsed(signed, '/');
    expect(await verifySurrogateSignature(candidates, good, SUITE, 'suite')).toBe(candidates[0]);
    const wrong = await verifySurrogateSignature(candidates, good, { ...SUITE, secretAccessKey: 'other-secret-000000' }, 'suite');
    expect((wrong as SluiceError).reason).toBe('bad_surrogate_signature');
    expect((wrong as SluiceError).message).toContain('SigV4A');
    expect((await verifySurrogateSignature(candidates, auth, SUITE, 'suite')) instanceof SluiceError).toBe(true);
  });

  it('re-signs a @smithy/signature-v4a request for the real key pair, region set and date kept', async () => {
    const signer = new SignatureV4a({ service: 's3', region: 'us-east-1', sha256: Sha256, uriEscapePath: false, credentials: { ...SURROGATE, sessionToken: 'AGENT-TOKEN' } });
    const host = 'mrap.accesspoint.s3-global.amazonaws.com';
    const r = await signer.sign({ method: 'PUT', protocol: 'https:', hostname: host, path: '/a%20b', query: {}, headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }, { signingRegion: 'us-east-1,us-west-2' }) as { headers: Record<string, string> };
    const { host: _h, ...headers } = r.headers;
    const auth = parsed(headers, '/a%20b');
    expect(auth.algorithm).toBe('AWS4-ECDSA-P256-SHA256');
    const candidates = canonicalCandidates({ method: 'PUT', target: '/a%20b', authority: host, headers }, { service: 's3', signedHeaders: auth.signedHeaders, presigned: false, payloadHashes: ['UNSIGNED-PAYLOAD'] });
    if ('error' in candidates) throw new Error(candidates.error);
    const verified = await verifySurrogateSignature(candidates, auth, SURROGATE, 'aws');
    if (verified instanceof SluiceError) throw verified;
    const out = { headers: { ...headers }, path: '/a%20b' };
    await resignRequest(out, auth, verified, REAL);
    const authz = String(out.headers.authorization);
    expect(authz).toMatch(new RegExp(`^AWS4-ECDSA-P256-SHA256 Credential=${REAL.accessKeyId}/\\d{8}/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-region-set;x-amz-security-token, Signature=[0-9a-f]+$`));
    expect(out.headers['x-amz-region-set']).toBe('us-east-1,us-west-2');
    expect(out.headers['x-amz-security-token']).toBe(REAL.sessionToken);
    // What upstream will check: the new signature under the real pair's public key.
    const again = parsed(out.headers, out.path);
    const upstream = canonicalCandidates({ method: 'PUT', target: out.path, authority: host, headers: out.headers }, { service: 's3', signedHeaders: again.signedHeaders, presigned: false, payloadHashes: ['UNSIGNED-PAYLOAD'] });
    if ('error' in upstream) throw new Error(upstream.error);
    const sts = stringToSign(again.amzDate, again.scope, renderCanonicalRequest(upstream[0] as never), again.algorithm);
    expect(verifySigV4a(sigV4aKeys(REAL.accessKeyId, REAL.secretAccessKey), sts, again.signature)).toBe(true);
    expect(verifySigV4a(sigV4aKeys(SURROGATE.accessKeyId, SURROGATE.secretAccessKey), sts, again.signature)).toBe(false);
  });
});
