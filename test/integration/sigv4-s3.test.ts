// Issue 7 end to end: the unmodified AWS SDK for JavaScript v3 (@aws-sdk/client-s3), holding
// only the surrogate key pair, talks to S3 names through in-process sluice; the origin checks
// every request with the REAL key pair using an independent implementation (aws4 + its own
// chunk check) before s3rver stores anything. A wrong agent signature never reaches it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { S3Client, PutObjectCommand, GetObjectCommand, ListObjectsV2Command, CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '../../src/sigv4/crypto.ts';
import { createTestPki, type TestPki } from '../helpers/pki.ts';
import { startDnsmasq, type TestResolver } from '../helpers/dnsmasq.ts';
import { startTestSluice, type TestSluice } from '../helpers/sluice.ts';
import { startSigV4Origin, encodeAwsChunked, decodeAwsChunked, type SigV4Origin, awsCredentialToml } from '../helpers/sigv4-origin.ts';
import { skipUnlessTools } from '../helpers/tools.ts';

const skip = skipUnlessTools('sigv4-s3', ['openssl', 'dnsmasq']);

const BUCKET = 'sluice-it';
const STS = 'sts.us-east-1.amazonaws.com';
const MAX_BUFFERED = 64 * 1024;
const VHOST = `${BUCKET}.s3.us-east-1.amazonaws.com`;
const SURROGATE = { accessKeyId: 'AKIASLUICEEXAMPLE000', secretAccessKey: 'sluice-example-surrogate-secret' };
const REAL = { accessKeyId: 'AKIAREALKEYEXAMPLE00', secretAccessKey: 'real/secret+key/EXAMPLE0000000000000000', sessionToken: 'REAL-SESSION-TOKEN-EXAMPLE' };

let pki: TestPki;
let dns: TestResolver;
let origin: SigV4Origin;
let t: TestSluice;
let agent: https.Agent;
let ca: string;

/** An https.Agent that connects every request to sluice's TLS port, keeping the real name for SNI. */
function agentTo(port: number): https.Agent {
  const a = new https.Agent({ keepAlive: true, ca });
  (a as unknown as { createConnection: (o: tls.ConnectionOptions) => tls.TLSSocket }).createConnection = (o) =>
    tls.connect({ ...o, host: '127.0.0.1', port, servername: o.servername ?? (o.host as string), ca });
  return a;
}

function client(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } = { ...SURROGATE, sessionToken: 'AGENT-OWN-TOKEN' }): S3Client {
  return new S3Client({ region: 'us-east-1', credentials, requestHandler: { httpsAgent: agent }, maxAttempts: 1 });
}

beforeAll(async () => {
  pki = await createTestPki();
  const cert = await pki.issue([VHOST, 's3.us-east-1.amazonaws.com', STS]);
  origin = await startSigV4Origin(cert, REAL, { bucket: BUCKET });
  dns = await startDnsmasq({ [VHOST]: ['127.0.0.1'], 's3.us-east-1.amazonaws.com': ['127.0.0.1'], [STS]: ['127.0.0.1'] });
  process.env.SLUICE_IT_AWS_ACCESS_KEY_ID = REAL.accessKeyId;
  process.env.SLUICE_IT_AWS_SECRET_ACCESS_KEY = REAL.secretAccessKey;
  process.env.SLUICE_IT_AWS_SESSION_TOKEN = REAL.sessionToken;
  t = await startTestSluice(`
[proxy]
agent = "it-agent"
extra_upstream_ca = "${pki.caCert}"

[upstream]
https_port = ${origin.port}
max_buffered_body_bytes = ${MAX_BUFFERED}

[dns]
upstream = "${dns.address}"

${awsCredentialToml(SURROGATE, 'SLUICE_IT_AWS')}`);
  ca = readFileSync(t.caCert, 'utf8');
  agent = agentTo(t.sluice.ports.https);
}, 60_000);

afterAll(async () => {
  agent?.destroy();
  await t?.stop();
  await origin?.stop();
  await dns?.stop();
});

async function text(body: unknown): Promise<string> {
  return (body as { transformToString(): Promise<string> }).transformToString();
}

describe.skipIf(skip)('@aws-sdk/client-s3 through sluice, verified upstream with the real key', () => {
  it('PutObject with a Buffer body (hex payload hash + CRC32) and GetObject', async () => {
    const s3 = client();
    const key = 'dir/a b+c€ (1).txt';
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Buffer.from('hello from the agent') }));
    const put = origin.seen.at(-1);
    expect(put).toMatchObject({ method: 'PUT', form: 'header', ok: true });
    expect(put?.payload).toMatch(/^[0-9a-f]{64}$/);
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(await text(got.Body)).toBe('hello from the agent');
    expect(origin.seen.every((j) => j.ok)).toBe(true);
    const line = await t.waitForLog((l) => l.method === 'PUT' && l.status === 200);
    expect(line).toMatchObject({ decision: 'allow', credential: 'aws' });
  });

  it('PutObject with a stream body (STREAMING-UNSIGNED-PAYLOAD-TRAILER, aws-chunked) streams through untouched', async () => {
    const s3 = client();
    const data = Buffer.alloc(300_000, 'z');
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'streamed.bin', Body: Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]), ContentLength: data.length }));
    expect(origin.seen.at(-1)).toMatchObject({ method: 'PUT', ok: true, payload: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' });
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'streamed.bin' }));
    expect(Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()).equals(data)).toBe(true);
  });

  it('ListObjectsV2 (query signed) and a multipart upload (?uploads flag, parts, complete)', async () => {
    const s3 = client();
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'dir/' }));
    expect(listed.Contents?.map((c) => c.Key)).toContain('dir/a b+c€ (1).txt');
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'multi.bin' }));
    expect(origin.seen.at(-1)?.url).toMatch(/\?uploads/);
    const part1 = Buffer.alloc(5 * 1024 * 1024, 1);
    const part2 = Buffer.alloc(1024, 2);
    const p1 = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'multi.bin', UploadId, PartNumber: 1, Body: part1 }));
    const p2 = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'multi.bin', UploadId, PartNumber: 2, Body: part2 }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: 'multi.bin', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.ETag }] } }));
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'multi.bin' }));
    // (The length comes from the body: the response scrub on credential hosts may drop Content-Length.)
    const bytes = await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
    expect(Buffer.from(bytes).equals(Buffer.concat([part1, part2]))).toBe(true);
    expect(origin.seen.every((j) => j.ok)).toBe(true);
  });

  it('a wrong agent signature is refused with 403 bad_surrogate_signature and never reaches the origin', async () => {
    const before = origin.seen.length;
    const s3 = client({ accessKeyId: SURROGATE.accessKeyId, secretAccessKey: 'not-the-surrogate-secret' });
    const err = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'never.txt', Body: Buffer.from('x') })).catch((e: unknown) => e as { $metadata?: { httpStatusCode?: number } });
    expect(err?.$metadata?.httpStatusCode).toBe(403);
    const line = await t.waitForLog((l) => l.reason === 'bad_surrogate_signature');
    expect(line).toMatchObject({ decision: 'deny', status: 403, host: VHOST });
    expect(origin.seen.length).toBe(before);
  });
});

/** Raw HTTPS through sluice's port with the real name (for requests the SDK does not make). */
function raw(method: string, path: string, headers: Record<string, string>, body?: Buffer, host = VHOST): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host, method, path, headers, agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe.skipIf(skip)('forms the JS SDK does not send', () => {
  const when = new Date();
  const signer = (sessionToken?: string) => new SignatureV4({ service: 's3', region: 'us-east-1', sha256: Sha256, uriEscapePath: false, credentials: { ...SURROGATE, sessionToken } });

  it('a presigned GET URL made with the surrogate (and the agent\'s own session token) works through sluice', async () => {
    // As @aws-sdk/s3-request-presigner does: UNSIGNED-PAYLOAD, neither signed nor hoisted.
    const unsigned = new Set(['x-amz-content-sha256']);
    const r = await signer('AGENT-OWN-TOKEN').presign({ method: 'GET', protocol: 'https:', hostname: VHOST, path: '/streamed.bin', query: {}, headers: { host: VHOST, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } } as never, { signingDate: when, expiresIn: 600, unsignableHeaders: unsigned, unhoistableHeaders: unsigned }) as unknown as { query: Record<string, string> };
    const qs = Object.entries(r.query).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
    expect(qs).toContain('X-Amz-Security-Token=AGENT-OWN-TOKEN');
    const res = await raw('GET', `/streamed.bin?${qs}`, {});
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(300_000);
    expect(origin.seen.at(-1)).toMatchObject({ form: 'presigned', ok: true });
    const before = origin.seen.length;
    const tampered = await raw('GET', `/multi.bin?${qs}`, {});
    expect(tampered.status).toBe(403);
    expect(origin.seen.length).toBe(before);
  });

  it('a chunk-signed upload (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) is re-signed chunk by chunk', async () => {
    const data = Buffer.alloc(200_000, 'q');
    const headers: Record<string, string> = {
      host: VHOST, 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(data.length),
    };
    const chunkSize = 64 * 1024;
    // The framed length is known before signing: the chunk headers' lengths do not depend on signatures.
    const framedLength = encodeAwsChunked(data, chunkSize, { secret: 'x', amzDate: '20260101T000000Z', date: '20260101', region: 'us-east-1', service: 's3', seed: '0'.repeat(64) }).length;
    headers['content-length'] = String(framedLength);
    const signed = await signer().sign({ method: 'PUT', protocol: 'https:', hostname: VHOST, path: '/chunked.bin', query: {}, headers } as never, { signingDate: when }) as unknown as { headers: Record<string, string> };
    const seed = /Signature=([0-9a-f]{64})/.exec(signed.headers.authorization ?? '')?.[1] as string;
    const amzDate = signed.headers['x-amz-date'] as string;
    const body = encodeAwsChunked(data, chunkSize, { secret: SURROGATE.secretAccessKey, amzDate, date: amzDate.slice(0, 8), region: 'us-east-1', service: 's3', seed });
    expect(decodeAwsChunked(body).data.equals(data)).toBe(true);
    const { host: _host, ...sendHeaders } = signed.headers;
    const res = await raw('PUT', '/chunked.bin', sendHeaders, body);
    expect(res.status).toBe(200);
    expect(origin.seen.at(-1)).toMatchObject({ payload: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', ok: true, bodyBytes: body.length });
    const got = await client().send(new GetObjectCommand({ Bucket: BUCKET, Key: 'chunked.bin' }));
    expect(Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()).equals(data)).toBe(true);

    // The same upload with one chunk signature flipped: refused mid-stream, nothing stored.
    const bad = Buffer.from(body);
    const at = bad.indexOf('chunk-signature=', 100) + 'chunk-signature='.length;
    bad[at] = bad[at] === 0x30 ? 0x31 : 0x30;
    const refused = await raw('PUT', '/chunked-bad.bin', sendHeaders, bad).catch((e: Error) => e);
    const line = await t.waitForLog((l) => l.path === '/chunked-bad.bin');
    expect(line.reason).toBe('bad_surrogate_signature');
    if (!(refused instanceof Error)) expect(refused.status).toBe(403);
    const missing = await client().send(new GetObjectCommand({ Bucket: BUCKET, Key: 'chunked-bad.bin' })).catch((e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode);
    expect(missing).toBe(404);
    expect(origin.seen.filter((j) => j.ok && j.method === 'PUT' && j.url.includes('chunked-bad')).length).toBe(0);
  });
});

describe.skipIf(skip)('services that sign sha256(body) without x-amz-content-sha256 (STS)', () => {
  async function stsCall(body: string): Promise<{ status: number; body: string }> {
    const signer = new SignatureV4({ service: 'sts', region: 'us-east-1', sha256: Sha256, applyChecksum: false, credentials: SURROGATE });
    const headers = { host: STS, 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) };
    const signed = await signer.sign({ method: 'POST', protocol: 'https:', hostname: STS, path: '/', query: {}, headers, body } as never) as unknown as { headers: Record<string, string> };
    expect(signed.headers['x-amz-content-sha256']).toBeUndefined();
    const { host: _host, ...send } = signed.headers;
    return raw('POST', '/', send, Buffer.from(body), STS);
  }

  it('buffers the body, verifies sha256(body) with the surrogate and re-signs it', async () => {
    const res = await stsCall('Action=GetCallerIdentity&Version=2011-06-15');
    expect(res.status).toBe(200);
    expect(res.body).toContain('user/verified');
    expect(origin.seen.at(-1)).toMatchObject({ method: 'POST', ok: true, payload: '' });
  });

  it('refuses a body over [upstream] max_buffered_body_bytes with 413, origin untouched', async () => {
    const before = origin.seen.length;
    const res = await stsCall(`Action=GetCallerIdentity&Pad=${'x'.repeat(MAX_BUFFERED)}`);
    expect(res.status).toBe(413);
    const line = await t.waitForLog((l) => l.reason === 'body_too_large');
    expect(line).toMatchObject({ host: STS, status: 413 });
    expect(origin.seen.length).toBe(before);
  });
});
