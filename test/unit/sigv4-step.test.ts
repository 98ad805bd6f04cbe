// The sigv4 step on an exchange built by hand (as the request handler builds it): which requests
// it takes, the order verify → re-sign, the session token credentials dropped, bodies it must
// hash (capped), aws-chunked bodies, clock-skew warnings.
import { describe, expect, it, vi } from 'vitest';
import { Readable } from 'node:stream';
import { SignatureV4 } from '@smithy/signature-v4';
import { SignatureV4a } from '@smithy/signature-v4a';
import { Sha256, sha256Hex } from '../../src/sigv4/crypto.ts';
import { createSigv4Step } from '../../src/steps/sigv4/step.ts';
import { dropSecurityToken } from '../../src/steps/credentials/aws.ts';
import { readBodyCapped } from '../../src/sigv4/buffered-body.ts';
import { uriEncode } from '../../src/sigv4/query.ts';
import type { SluiceError } from '../../src/errors/codes.ts';
import type { AwsCredential } from '../../src/config/types.ts';
import type { Exchange } from '../../src/pipeline/exchange.ts';
import type { HeaderMap } from '../../src/http/header-map.ts';
import type { TraceEntry } from '../../src/pipeline/trace.ts';

const CREDENTIAL: AwsCredential = {
  type: 'aws', name: 'aws', hosts: ['*.amazonaws.com'], allowForeignCredentials: false,
  surrogateAccessKeyId: 'AKIASLUICEEXAMPLE000', surrogateSecretAccessKey: 'sluice-example-surrogate-secret',
  accessKeyId: { kind: 'env', name: 'X', optional: false }, secretAccessKey: { kind: 'env', name: 'Y', optional: false }, sessionToken: undefined,
  plaintext: false,
};
const REAL = { accessKeyId: 'AKIAREALKEYEXAMPLE00', secretAccessKey: 'real-secret-access-key-example-000000000', sessionToken: 'REAL-SESSION-TOKEN' };
const NOW = Date.parse('2026-11-23T18:00:00Z');

function exchange(req: { method: string; host: string; target: string; headers: HeaderMap; hasBody?: boolean }, extra: Partial<{ bufferBody: (max: number) => Promise<Buffer | SluiceError> }> = {}) {
  const warn = vi.fn();
  const ex = {
    conn: { id: 'c1', listener: 'tls' }, method: req.method, path: req.target, host: req.host, authority: req.host,
    headers: { ...req.headers }, hasBody: req.hasBody ?? false, credential: undefined, trace: [] as TraceEntry[], requestBody: [] as { name: string }[], response: [],
    runtime: { config: { credentials: [CREDENTIAL], upstream: { maxBufferedBodyBytes: 64 } }, services: { opsLog: { warn } } },
    ...extra,
  };
  return { ex: ex as unknown as Exchange, warn };
}

async function agentSigned(o: { method?: string; host?: string; path?: string; query?: Record<string, string>; headers?: Record<string, string>; body?: string; secret?: string; token?: string; service?: string; when?: Date }) {
  const host = o.host ?? 'bucket.s3.us-east-1.amazonaws.com';
  const service = o.service ?? 's3';
  const signer = new SignatureV4({ service, region: 'us-east-1', sha256: Sha256, uriEscapePath: service !== 's3', applyChecksum: service === 's3', credentials: { accessKeyId: CREDENTIAL.surrogateAccessKeyId, secretAccessKey: o.secret ?? CREDENTIAL.surrogateSecretAccessKey, sessionToken: o.token } });
  const signed = await signer.sign({ method: o.method ?? 'PUT', protocol: 'https:', hostname: host, path: o.path ?? '/key', query: o.query ?? {}, headers: { host, ...o.headers }, body: o.body } as never, { signingDate: o.when ?? new Date(NOW) });
  const s = signed as unknown as { headers: Record<string, string>; query: Record<string, string> };
  const q = Object.entries(s.query).map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`).join('&');
  const headers = Object.fromEntries(Object.entries(s.headers).filter(([k]) => k !== 'host').map(([k, v]) => [k.toLowerCase(), v]));
  return { method: o.method ?? 'PUT', host, target: q === '' ? (o.path ?? '/key') : `${o.path ?? '/key'}?${q}`, headers };
}

const step = createSigv4Step({ realCredentials: () => ({ realAwsCredentials: (name) => (name === 'aws' ? REAL : undefined) }), now: () => NOW });

describe('sigv4 step', () => {
  it('verifies the surrogate signature and re-signs with the real key and session token', async () => {
    const { ex } = exchange(await agentSigned({ headers: { 'x-amz-content-sha256': sha256Hex('hello') } }));
    expect(await step.onRequest(ex)).toBeUndefined();
    expect(String(ex.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAREALKEYEXAMPLE00\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/);
    expect(ex.headers['x-amz-security-token']).toBe(REAL.sessionToken);
    expect(ex.credential).toBe('aws');
    expect(ex.trace).toEqual([{ step: 'sigv4', action: 'resigned', detail: 'aws in header' }]);
    expect(JSON.stringify(ex.trace)).not.toContain(REAL.secretAccessKey);
  });

  it('refuses a wrong surrogate signature with 403 and leaves the request unsigned for the real key', async () => {
    const { ex } = exchange(await agentSigned({ secret: 'guessed-secret', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }));
    const before = ex.headers.authorization;
    const r = await step.onRequest(ex) as SluiceError;
    expect(r.reason).toBe('bad_surrogate_signature');
    expect(r.status).toBe(403);
    expect(ex.headers.authorization).toBe(before);
  });

  it('leaves foreign key ids, other hosts and unsigned requests to the other steps', async () => {
    const signed = await agentSigned({ headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    const foreign = exchange({ ...signed, headers: { ...signed.headers, authorization: String(signed.headers.authorization).replace(CREDENTIAL.surrogateAccessKeyId, 'AKIAOTHERKEY00000000') } });
    expect(await step.onRequest(foreign.ex)).toBeUndefined();
    expect(foreign.ex.trace).toEqual([]);
    const elsewhere = exchange({ ...signed, host: 'storage.example.com' });
    expect(await step.onRequest(elsewhere.ex)).toBeUndefined();
    expect(elsewhere.ex.headers.authorization).toBe(signed.headers.authorization);
    expect(await step.onRequest(exchange({ method: 'GET', host: 'bucket.s3.amazonaws.com', target: '/public', headers: {} }).ex)).toBeUndefined();
  });

  it('verifies what the agent signed even after credentials dropped its session token', async () => {
    const { ex } = exchange(await agentSigned({ token: 'AGENT-TOKEN', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }));
    expect(dropSecurityToken(ex)).toBe(true);
    expect(await step.onRequest(ex)).toBeUndefined();
    expect(ex.headers['x-amz-security-token']).toBe(REAL.sessionToken);
  });

  it('hashes a body without x-amz-content-sha256 (STS style) within the cap; 413 over it', async () => {
    const body = 'Action=GetCallerIdentity&Version=2011-06-15';
    const sts = await agentSigned({ method: 'POST', host: 'sts.us-east-1.amazonaws.com', service: 'sts', path: '/', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(sts.headers['x-amz-content-sha256']).toBeUndefined();
    const bufferBody = (text: string) => (max: number) => readBodyCapped(Readable.from([Buffer.from(text)]), max);
    const ok = exchange({ ...sts, hasBody: true }, { bufferBody: bufferBody(body) });
    expect(await step.onRequest(ok.ex)).toBeUndefined();
    expect(String(ok.ex.headers.authorization)).toContain('Credential=AKIAREALKEYEXAMPLE00/');
    const changed = exchange({ ...sts, hasBody: true }, { bufferBody: bufferBody(body.replace('Get', 'Put')) });
    expect((await step.onRequest(changed.ex) as SluiceError).reason).toBe('bad_surrogate_signature');
    const big = exchange({ ...sts, hasBody: true }, { bufferBody: bufferBody('x'.repeat(65)) });
    const r = await step.onRequest(big.ex) as SluiceError;
    expect([r.reason, r.status]).toEqual(['body_too_large', 413]);
    const unwired = exchange({ ...sts, hasBody: true });
    expect((await step.onRequest(unwired.ex) as SluiceError).status).toBe(500);
  });

  it('adds the chunk re-signer for STREAMING-AWS4-HMAC-SHA256-PAYLOAD bodies only', async () => {
    const streaming = exchange({ ...(await agentSigned({ headers: { 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', 'content-encoding': 'aws-chunked' } })), hasBody: true });
    expect(await step.onRequest(streaming.ex)).toBeUndefined();
    expect(streaming.ex.requestBody.map((t) => t.name)).toEqual(['sigv4-chunks']);
    const unsigned = exchange({ ...(await agentSigned({ headers: { 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' } })), hasBody: true });
    expect(await step.onRequest(unsigned.ex)).toBeUndefined();
    expect(unsigned.ex.requestBody).toEqual([]);
  });

  it('warns when the agent\'s clock is off by more than 5 minutes, and re-signs anyway', async () => {
    const { ex, warn } = exchange(await agentSigned({ when: new Date(NOW - 6 * 60_000), headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }));
    expect(await step.onRequest(ex)).toBeUndefined();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[0]).toMatchObject({ skew_seconds: -360, credential: 'aws' });
    const ok = exchange(await agentSigned({ when: new Date(NOW - 4 * 60_000), headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }));
    await step.onRequest(ok.ex);
    expect(ok.warn).not.toHaveBeenCalled();
  });

  it('does not warn about an old presigned URL within its expiry, and does once it has expired', async () => {
    const presign = async (ageMs: number) => {
      const signer = new SignatureV4({ service: 's3', region: 'us-east-1', sha256: Sha256, uriEscapePath: false, credentials: { accessKeyId: CREDENTIAL.surrogateAccessKeyId, secretAccessKey: CREDENTIAL.surrogateSecretAccessKey } });
      const host = 'bucket.s3.us-east-1.amazonaws.com';
      const r = await signer.presign({ method: 'GET', protocol: 'https:', hostname: host, path: '/k', query: {}, headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } } as never, { signingDate: new Date(NOW - ageMs), expiresIn: 3600, unsignableHeaders: new Set(['x-amz-content-sha256']), unhoistableHeaders: new Set(['x-amz-content-sha256']) }) as unknown as { query: Record<string, string> };
      const q = Object.entries(r.query).map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`).join('&');
      return exchange({ method: 'GET', host, target: `/k?${q}`, headers: {} });
    };
    const fresh = await presign(30 * 60_000);
    expect(await step.onRequest(fresh.ex)).toBeUndefined();
    expect(String(fresh.ex.path)).toContain('X-Amz-Credential=AKIAREALKEYEXAMPLE00');
    expect(fresh.warn).not.toHaveBeenCalled();
    const expired = await presign(2 * 3600_000);
    expect(await step.onRequest(expired.ex)).toBeUndefined();
    expect(expired.warn).toHaveBeenCalledTimes(1);
  });

  it('refuses (500) rather than forwarding a surrogate signature when the real key is not available', async () => {
    const bare = createSigv4Step({ realCredentials: () => undefined, now: () => NOW });
    const { ex } = exchange(await agentSigned({ headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }));
    expect((await bare.onRequest(ex) as SluiceError).status).toBe(500);
  });

  it('answers a malformed SigV4 claim with a surrogate on an AWS host with 400 and a one-line reason', async () => {
    const malformed = 'AWS4-HMAC-SHA256 Credential=AKIASLUICEEXAMPLE000/2026/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc';
    const { ex } = exchange({ method: 'GET', host: 'bucket.s3.amazonaws.com', target: '/k', headers: { authorization: malformed, 'x-amz-date': '20261123T180000Z' } });
    const r = await step.onRequest(ex) as SluiceError;
    expect([r.reason, r.status]).toEqual(['bad_request', 400]);
    expect(r.message).toMatch(/^SigV4: Credential date/);
    const foreign = exchange({ method: 'GET', host: 'bucket.s3.amazonaws.com', target: '/k', headers: { authorization: malformed.replace('AKIASLUICEEXAMPLE000', 'AKIAFOREIGN000000000'), 'x-amz-date': '20261123T180000Z' } });
    expect(await step.onRequest(foreign.ex)).toBeUndefined();
  });

  it('re-signs SigV4A (ECDSA) requests and refuses chunk-signed SigV4A bodies', async () => {
    const host = 'mrap.accesspoint.s3-global.amazonaws.com';
    const sign = async (payload: string) => {
      const signer = new SignatureV4a({ service: 's3', region: '*', sha256: Sha256, uriEscapePath: false, credentials: { accessKeyId: CREDENTIAL.surrogateAccessKeyId, secretAccessKey: CREDENTIAL.surrogateSecretAccessKey } });
      const r = await signer.sign({ method: 'PUT', protocol: 'https:', hostname: host, path: '/k', query: {}, headers: { host, 'x-amz-content-sha256': payload } }, { signingDate: new Date(NOW) }) as { headers: Record<string, string> };
      const { host: _h, ...headers } = r.headers;
      return exchange({ method: 'PUT', host, target: '/k', headers, hasBody: true });
    };
    const ok = await sign('UNSIGNED-PAYLOAD');
    expect(await step.onRequest(ok.ex)).toBeUndefined();
    expect(String(ok.ex.headers.authorization)).toMatch(/^AWS4-ECDSA-P256-SHA256 Credential=AKIAREALKEYEXAMPLE00\/\d{8}\/s3\/aws4_request, /);
    const chunked = await sign('STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD');
    const r = await step.onRequest(chunked.ex) as SluiceError;
    expect([r.reason, r.status]).toEqual(['bad_request', 400]);
  });
});
