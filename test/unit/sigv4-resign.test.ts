// Round trips: a request signed by @smithy/signature-v4 (what the JS SDK uses) with the
// surrogate key is verified, re-signed by sluice with the real key, and must equal what the same
// signer produces with the real key directly: header auth, presigned URLs, session tokens,
// and the encoding edge cases (space, "+", "€", "%2F") for S3 and for other services.
import { describe, expect, it } from 'vitest';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '../../src/sigv4/crypto.ts';
import { canonicalCandidates } from '../../src/sigv4/canonical.ts';
import { findSigV4, parseAuthorizationHeader } from '../../src/sigv4/parse.ts';
import { verifySurrogateSignature } from '../../src/sigv4/verify.ts';
import { resignRequest, type RealAwsCredentials } from '../../src/sigv4/resign.ts';
import { parseQuery, queryParam, uriEncode } from '../../src/sigv4/query.ts';
import { SluiceError } from '../../src/errors/codes.ts';
import type { HeaderMap } from '../../src/http/header-map.ts';

const SURROGATE = { accessKeyId: 'AKIASLUICEEXAMPLE000', secretAccessKey: 'sluice-example-surrogate-secret' };
const REAL: RealAwsCredentials = { accessKeyId: 'AKIAREALKEYEXAMPLE00', secretAccessKey: 'real/secret+key/EXAMPLE0000000000000000', sessionToken: undefined };
const WHEN = new Date('2026-11-23T18:00:00Z');

interface SmithyRequest {
  method: string; protocol: string; hostname: string; path: string;
  query: Record<string, string | string[]>; headers: Record<string, string>; body?: string;
}

function signer(creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }, service: string): SignatureV4 {
  return new SignatureV4({ service, region: 'us-east-1', credentials: creds, sha256: Sha256, uriEscapePath: service !== 's3' });
}

function wireTarget(r: SmithyRequest): string {
  const q = Object.entries(r.query).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${uriEncode(k)}=${uriEncode(x)}`));
  return q.length === 0 ? r.path : `${r.path}?${q.join('&')}`;
}

function lower(headers: Record<string, string>): HeaderMap {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** sluice's part: parse, rebuild, verify with the surrogate secret, re-sign with `real`. */
async function throughSluice(method: string, target: string, headers: HeaderMap, service: string, real: RealAwsCredentials, surrogateSecret = SURROGATE.secretAccessKey): Promise<{ headers: HeaderMap; path: string } | SluiceError> {
  const auth = findSigV4(headers, target);
  if (auth === undefined || 'error' in auth) throw new Error(`parse: ${JSON.stringify(auth)}`);
  const declared = headers['x-amz-content-sha256'];
  const hashes = auth.location === 'query' ? ['UNSIGNED-PAYLOAD', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'] : [String(declared)];
  const candidates = canonicalCandidates({ method, target, authority: String(headers.host), headers }, { service, signedHeaders: auth.signedHeaders, presigned: auth.location === 'query', payloadHashes: hashes });
  if ('error' in candidates) throw new Error(candidates.error);
  const verified = await verifySurrogateSignature(candidates, auth, { accessKeyId: SURROGATE.accessKeyId, secretAccessKey: surrogateSecret }, 'aws');
  if (verified instanceof SluiceError) return verified;
  const out = { headers: { ...headers }, path: target };
  await resignRequest(out, auth, verified, real);
  return out;
}

function request(service: string, path: string, query: Record<string, string | string[]> = {}, extra: Record<string, string> = {}): SmithyRequest {
  const hostname = service === 's3' ? 'bucket.s3.us-east-1.amazonaws.com' : `${service}.us-east-1.amazonaws.com`;
  return {
    method: 'PUT', protocol: 'https:', hostname, path, query,
    headers: { host: hostname, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-type': 'text/plain', ...extra },
  };
}

describe('header auth: sluice\'s re-signature equals the SDK signer\'s with the real key', () => {
  const cases: Array<[string, SmithyRequest]> = [
    ['S3 key with space, +, €, %2F (encoded once, signed as sent)', request('s3', `/${['dir', 'a b+c€%2Fd.txt'].map(uriEncode).join('/')}`)],
    ['S3 ?uploads flag and query values with + and space', request('s3', '/key', { uploads: '', 'x-id': 'a+b c' })],
    ['S3 path with a dot segment and double slash (not normalised)', request('s3', '/a/./b//c')],
    ['non-S3 path with an encoded colon and space (encoded twice)', request('lambda', '/2015-03-31/functions/my%3Afn%20x/invocations')],
    ['non-S3 query with €', request('execute-api', '/prod/items', { q: '€ 1+1' })],
    ['signed amz-sdk and user-agent style headers byte-identical', request('s3', '/k', {}, { 'amz-sdk-invocation-id': 'abc', 'x-amz-user-agent': 'aws-sdk-js/3', 'content-length': '5' })],
  ];
  for (const [name, r] of cases) {
    for (const token of [undefined, 'REAL//session+token=='] as const) {
      it(`${name}${token === undefined ? '' : ', with a real session token'}`, async () => {
        const service = r.hostname.split('.')[r.hostname.startsWith('bucket.') ? 1 : 0] as string;
        const agent = await signer(SURROGATE, service).sign(structuredClone(r) as never, { signingDate: WHEN }) as unknown as SmithyRequest;
        const real = { ...REAL, sessionToken: token };
        const out = await throughSluice(r.method, wireTarget(agent), lower(agent.headers), service, real);
        if (out instanceof SluiceError) throw out;
        const expected = await signer(real, service).sign(structuredClone(r) as never, { signingDate: WHEN }) as unknown as SmithyRequest;
        const expectedHeaders = lower(expected.headers);
        expect(out.headers.authorization).toBe(expectedHeaders.authorization);
        expect(out.headers['x-amz-security-token']).toBe(token);
        expect(out.path).toBe(wireTarget(agent));
      });
    }
  }

  it('never forwards the agent\'s own session token; without a real one the header is gone', async () => {
    const r = request('s3', '/k');
    const agent = await signer({ ...SURROGATE, sessionToken: 'AGENT-TOKEN' }, 's3').sign(structuredClone(r) as never, { signingDate: WHEN }) as unknown as SmithyRequest;
    const headers = lower(agent.headers);
    expect(headers['x-amz-security-token']).toBe('AGENT-TOKEN');
    expect(String(headers.authorization)).toContain('x-amz-security-token');
    const out = await throughSluice('PUT', wireTarget(agent), headers, 's3', REAL);
    if (out instanceof SluiceError) throw out;
    expect(out.headers['x-amz-security-token']).toBeUndefined();
    expect(String(out.headers.authorization)).not.toContain('x-amz-security-token');
    const expected = await signer(REAL, 's3').sign(structuredClone(r) as never, { signingDate: WHEN }) as unknown as SmithyRequest;
    expect(out.headers.authorization).toBe(lower(expected.headers).authorization);
  });

  it('refuses a request signed with another secret (403 bad_surrogate_signature)', async () => {
    const r = request('s3', '/k');
    const agent = await signer({ ...SURROGATE, secretAccessKey: 'not-the-surrogate-secret' }, 's3').sign(structuredClone(r) as never, { signingDate: WHEN }) as unknown as SmithyRequest;
    const out = await throughSluice('PUT', wireTarget(agent), lower(agent.headers), 's3', REAL);
    expect(out).toBeInstanceOf(SluiceError);
    expect((out as SluiceError).reason).toBe('bad_surrogate_signature');
  });

  it('accepts a client that sent "+" for a space in the query (form style)', async () => {
    const r = request('s3', '/k', { prefix: 'a b' });
    const agent = await signer(SURROGATE, 's3').sign(structuredClone(r) as never, { signingDate: WHEN }) as unknown as SmithyRequest;
    const out = await throughSluice('PUT', '/k?prefix=a+b', lower(agent.headers), 's3', REAL);
    expect(out).not.toBeInstanceOf(SluiceError);
  });
});

describe('presigned URLs', () => {
  for (const token of [undefined, 'REAL//session+token=='] as const) {
    it(`re-signs the query like the SDK presigner with the real key${token === undefined ? '' : ' and session token'}; the agent's token is dropped`, async () => {
      const r: SmithyRequest = { method: 'GET', protocol: 'https:', hostname: 'bucket.s3.us-east-1.amazonaws.com', path: `/${uriEncode('a b+€')}`, query: { 'response-content-type': 'text/plain' }, headers: { host: 'bucket.s3.us-east-1.amazonaws.com' } };
      const agent = await signer({ ...SURROGATE, sessionToken: 'AGENT-TOKEN' }, 's3').presign(structuredClone(r) as never, { signingDate: WHEN, expiresIn: 900 }) as unknown as SmithyRequest;
      expect(agent.query['X-Amz-Security-Token']).toBe('AGENT-TOKEN');
      const real = { ...REAL, sessionToken: token };
      const out = await throughSluice('GET', wireTarget(agent), lower(agent.headers), 's3', real);
      if (out instanceof SluiceError) throw out;
      const expected = await signer(real, 's3').presign(structuredClone(r) as never, { signingDate: WHEN, expiresIn: 900 }) as unknown as SmithyRequest;
      const q = parseQuery(out.path.slice(out.path.indexOf('?') + 1));
      expect(queryParam(q, 'X-Amz-Signature')).toBe(expected.query['X-Amz-Signature']);
      expect(queryParam(q, 'X-Amz-Credential')).toBe(expected.query['X-Amz-Credential']);
      expect(queryParam(q, 'X-Amz-Security-Token')).toBe(token);
      expect(out.path).not.toContain('AGENT-TOKEN');
      expect(out.path.startsWith(`/${uriEncode('a b+€')}?`)).toBe(true);
    });
  }

  it('refuses a tampered presigned URL', async () => {
    const r: SmithyRequest = { method: 'GET', protocol: 'https:', hostname: 'bucket.s3.us-east-1.amazonaws.com', path: '/k', query: {}, headers: { host: 'bucket.s3.us-east-1.amazonaws.com' } };
    const agent = await signer(SURROGATE, 's3').presign(structuredClone(r) as never, { signingDate: WHEN, expiresIn: 900 }) as unknown as SmithyRequest;
    const target = wireTarget(agent).replace('X-Amz-Expires=900', 'X-Amz-Expires=604800');
    const out = await throughSluice('GET', target, lower(agent.headers), 's3', REAL);
    expect((out as SluiceError).reason).toBe('bad_surrogate_signature');
  });
});

describe('parsing', () => {
  const headers: HeaderMap = { 'x-amz-date': '20261123T180000Z' };
  const sig = 'a'.repeat(64);
  it('reads s3cmd\'s Authorization without spaces after commas', () => {
    const a = parseAuthorizationHeader(`AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=${sig}`, headers);
    expect(a).toMatchObject({ accessKeyId: 'AKID', scope: { date: '20261123', region: 'us-east-1', service: 's3' }, signedHeaders: ['host', 'x-amz-content-sha256', 'x-amz-date'], signature: sig });
  });
  it.each([
    ['AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/s3, SignedHeaders=host, Signature=' + sig, 'Credential must be'],
    ['AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/s3/aws4_request, SignedHeaders=Host, Signature=' + sig, 'SignedHeaders'],
    ['AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=xyz', 'Signature must be'],
    ['AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/s3/aws4_request, SignedHeaders=host', 'needs Credential'],
    ['AWS4-ECDSA-P256-SHA256 Credential=AKID/20261123/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=' + sig, 'SigV4A Credential must be'],
    ['AWS4-ECDSA-P256-SHA256 Credential=AKID/20261123/s3/aws4_request, SignedHeaders=host, Signature=xyz', 'DER ECDSA'],
    ['AWS4-HMAC-SHA1 Credential=AKID/20261123/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=' + sig, 'unsupported Authorization algorithm'],
  ])('explains what is wrong in one line: %s', (value, message) => {
    const a = parseAuthorizationHeader(value, headers);
    expect('error' in a && a.error).toContain(message);
    if ('error' in a) expect(a.error).not.toContain('\n');
  });
  it('needs X-Amz-Date and refuses header and query auth together', () => {
    const v = `AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=${sig}`;
    expect(parseAuthorizationHeader(v, {})).toEqual({ error: 'a SigV4 request needs an X-Amz-Date header (yyyymmddThhmmssZ)' });
    const both = findSigV4({ ...headers, authorization: v }, `/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261123%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261123T180000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=${sig}`);
    expect(both).toMatchObject({ error: expect.stringContaining('not both') });
  });
  it('is not SigV4 without an AWS4 Authorization or X-Amz-Signature', () => {
    expect(findSigV4({ authorization: 'Bearer x' }, '/k?a=b')).toBeUndefined();
  });
});
