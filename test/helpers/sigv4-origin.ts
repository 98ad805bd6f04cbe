// An S3 origin that judges SigV4 itself, because s3rver does not (DESIGN.md §6): every request
// is checked with the REAL key pair by an implementation independent of sluice — the `aws4`
// package for header and presigned signatures, and the small chunk-chain check below (proven
// against AWS's published chunked example in sigv4-origin's own test) for aws-chunked bodies —
// then passed, unsigned and de-chunked, to s3rver as a plain object store.
import https from 'node:https';
import http from 'node:http';
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import aws4 from 'aws4';
import S3rver from '@20minutes/s3rver';
import { makeTempDir, removeTempDir } from './temp-dir.ts';

export interface OriginCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface Judgement {
  method: string;
  url: string;
  form: 'header' | 'presigned' | 'anonymous';
  payload: string;
  ok: boolean;
  why?: string;
  bodyBytes: number;
}

export interface SigV4Origin {
  /** Every request that reached the origin, judged. */
  seen: Judgement[];
  port: number;
  stop(): Promise<void>;
}

const EMPTY = createHash('sha256').digest('hex');
const hmac = (key: Buffer | string, text: string): Buffer => createHmac('sha256', key).update(text).digest();

function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

/** Decodes an aws-chunked body; with `chain`, checks every chunk and trailer signature. */
export function decodeAwsChunked(body: Buffer, chain?: { key: Buffer; amzDate: string; scope: string; seed: string }): { data: Buffer; error?: string } {
  const parts: Buffer[] = [];
  let at = 0;
  let prev = chain?.seed ?? '';
  while (true) {
    const nl = body.indexOf('\r\n', at);
    if (nl < 0) return { data: Buffer.concat(parts), error: 'no chunk header' };
    const line = body.subarray(at, nl).toString('latin1');
    const [sizeHex, ext] = line.split(';');
    const size = parseInt(sizeHex ?? '', 16);
    if (Number.isNaN(size)) return { data: Buffer.concat(parts), error: `bad chunk header ${line}` };
    const data = body.subarray(nl + 2, nl + 2 + size);
    if (chain !== undefined) {
      const sig = /^chunk-signature=([0-9a-f]{64})$/.exec(ext ?? '')?.[1];
      const expected = hmac(chain.key, ['AWS4-HMAC-SHA256-PAYLOAD', chain.amzDate, chain.scope, prev, EMPTY, createHash('sha256').update(data).digest('hex')].join('\n')).toString('hex');
      if (sig !== expected) return { data: Buffer.concat(parts), error: `chunk signature mismatch at ${parts.length}` };
      prev = sig;
    }
    if (size === 0) {
      const trailer = body.subarray(nl + 2).toString('latin1');
      if (chain !== undefined && trailer.includes('x-amz-trailer-signature:')) {
        const lines = trailer.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l !== '');
        const sig = lines.find((l) => l.startsWith('x-amz-trailer-signature:'))?.slice('x-amz-trailer-signature:'.length);
        const canonical = lines.filter((l) => !l.startsWith('x-amz-trailer-signature:')).map((l) => `${l.slice(0, l.indexOf(':')).toLowerCase()}:${l.slice(l.indexOf(':') + 1).trim()}\n`).join('');
        const expected = hmac(chain.key, ['AWS4-HMAC-SHA256-TRAILER', chain.amzDate, chain.scope, prev, createHash('sha256').update(canonical).digest('hex')].join('\n')).toString('hex');
        if (sig !== expected) return { data: Buffer.concat(parts), error: 'trailer signature mismatch' };
      }
      return { data: Buffer.concat(parts) };
    }
    parts.push(data);
    at = nl + 2 + size + 2;
  }
}

function headerList(req: http.IncomingMessage, name: string): string | undefined {
  const values: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) if ((req.rawHeaders[i] as string).toLowerCase() === name) values.push((req.rawHeaders[i + 1] as string).trim());
  return values.length === 0 ? undefined : values.join(',');
}

function judge(req: http.IncomingMessage, body: Buffer, real: OriginCredentials): Omit<Judgement, 'bodyBytes' | 'method' | 'url'> & { data: Buffer } {
  const url = req.url ?? '/';
  const authorization = req.headers.authorization;
  const q = new URL(url, 'https://x').searchParams;
  const payload = String(req.headers['x-amz-content-sha256'] ?? '');
  if (authorization === undefined && !q.has('X-Amz-Signature')) return { form: 'anonymous', payload, ok: false, why: 'unsigned request', data: body };
  const presigned = authorization === undefined;
  const credential = presigned ? (q.get('X-Amz-Credential') ?? '') : (/Credential=([^,\s]+)/.exec(authorization)?.[1] ?? '');
  const signedHeaders = (presigned ? (q.get('X-Amz-SignedHeaders') ?? '') : (/SignedHeaders=([^,\s]+)/.exec(authorization)?.[1] ?? '')).split(';');
  const signature = presigned ? (q.get('X-Amz-Signature') ?? '') : (/Signature=([0-9a-f]+)/.exec(authorization)?.[1] ?? '');
  const [akid, date, region, service] = credential.split('/') as [string, string, string, string];
  const fail = (why: string) => ({ form: presigned ? 'presigned' as const : 'header' as const, payload, ok: false, why, data: body });
  if (akid !== real.accessKeyId) return fail(`signed with key id ${akid}`);
  const token = presigned ? q.get('X-Amz-Security-Token') ?? undefined : headerList(req, 'x-amz-security-token');
  if (token !== real.sessionToken) return fail('session token is not the real one');
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const v = headerList(req, name);
    if (v === undefined) return fail(`signed header ${name} missing`);
    headers[name] = v;
  }
  const include = Object.fromEntries(signedHeaders.map((h) => [h, true]));
  let path = url;
  if (presigned) {
    path = url.replace(/([?&])X-Amz-Signature=[^&]*&?/, '$1').replace(/[?&]$/, '');
    if (real.sessionToken === undefined) path = path.replace(/([?&])X-Amz-Security-Token=[^&]*&?/, '$1').replace(/[?&]$/, '');
  }
  // Without x-amz-content-sha256 (STS, DynamoDB …) the signature covers sha256(body): aws4 hashes
  // request.body then, and must not add headers of its own (doNotModifyHeaders), so it is given
  // the signing time itself.
  const hashesBody = !presigned && payload === '';
  const signer = new aws4.RequestSigner({ method: req.method, host: headers.host, path, service, region, headers, signQuery: presigned, extraHeadersToInclude: include, body: hashesBody ? body : undefined, doNotModifyHeaders: hashesBody } as never, { accessKeyId: real.accessKeyId, secretAccessKey: real.secretAccessKey, sessionToken: presigned ? real.sessionToken : undefined });
  // Before signature(): aws4 otherwise takes the date line of the string to sign from the clock.
  signer.prepareRequest();
  if (hashesBody) (signer as unknown as { datetime: string }).datetime = String(req.headers['x-amz-date']);
  const expected = signer.signature();
  if (expected !== signature) return fail('request signature does not verify with the real key');
  let data = body;
  if (payload.startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD')) {
    const amzDate = String(req.headers['x-amz-date']);
    const r = decodeAwsChunked(body, { key: signingKey(real.secretAccessKey, date, region, service), amzDate, scope: `${date}/${region}/${service}/aws4_request`, seed: signature });
    if (r.error !== undefined) return fail(r.error);
    data = r.data;
  } else if (payload.startsWith('STREAMING-UNSIGNED-PAYLOAD-TRAILER')) {
    const r = decodeAwsChunked(body);
    if (r.error !== undefined) return fail(r.error);
    data = r.data;
  } else if (/^[0-9a-f]{64}$/.test(payload) && createHash('sha256').update(body).digest('hex') !== payload) {
    return fail('body does not match x-amz-content-sha256');
  }
  return { form: presigned ? 'presigned' : 'header', payload, ok: true, data };
}

const DROP = /^(authorization|x-amz-content-sha256|x-amz-date|x-amz-security-token|x-amz-decoded-content-length|x-amz-trailer|x-amz-sdk-checksum-algorithm|x-amz-checksum-.*|content-encoding|content-length|transfer-encoding|content-md5|expect|host|connection)$/;

export async function startSigV4Origin(tls: { cert: string; key: string }, real: OriginCredentials, options: { bucket: string; host?: string } ): Promise<SigV4Origin> {
  const s3dir = makeTempDir('s3rver');
  const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: s3dir, configureBuckets: [{ name: options.bucket, configs: [] }], vhostBuckets: false });
  const s3address = await s3.run();
  const seen: Judgement[] = [];
  const server = https.createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, (req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      const verdict = judge(req, body, real);
      seen.push({ method: req.method ?? '', url: req.url ?? '', form: verdict.form, payload: verdict.payload, ok: verdict.ok, why: verdict.why, bodyBytes: body.length });
      if (!verdict.ok) {
        const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code><Message>${verdict.why}</Message></Error>`;
        res.writeHead(403, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
        res.end(xml);
        return;
      }
      if (!/^(?:[a-z0-9-]+\.)?s3[.-]/.test(String(req.headers.host ?? ''))) {
        // Not S3 (an STS-style call): the verdict is the answer.
        const xml = `<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::000000000000:user/verified</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>`;
        res.writeHead(200, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(xml) });
        res.end(xml);
        return;
      }
      // Virtual-host style (BUCKET.s3…) becomes path style for s3rver; signing parameters go.
      const host = String(req.headers.host ?? '');
      const bucket = host.startsWith(`${options.bucket}.`) ? `/${options.bucket}` : '';
      const u = new URL(req.url ?? '/', 'http://x');
      for (const k of [...u.searchParams.keys()]) if (k.startsWith('X-Amz-') || k === 'x-id') u.searchParams.delete(k);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (!DROP.test(k) && typeof v === 'string') headers[k] = v;
      headers['content-length'] = String(verdict.data.length);
      const search = u.search.replace(/=(&|$)/g, '$1');
      const up = http.request({ host: '127.0.0.1', port: s3address.port, method: req.method, path: `${bucket}${u.pathname}${search}`, headers }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      });
      up.on('error', () => res.destroy());
      up.end(verdict.data);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    seen,
    port: (server.address() as { port: number }).port,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await s3.close();
      removeTempDir(s3dir);
    },
  };
}

/** The client side of a chunk-signed upload (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), for tests. */
export function encodeAwsChunked(data: Buffer, chunkSize: number, chain: { secret: string; amzDate: string; date: string; region: string; service: string; seed: string }): Buffer {
  const key = signingKey(chain.secret, chain.date, chain.region, chain.service);
  const scope = `${chain.date}/${chain.region}/${chain.service}/aws4_request`;
  const out: Buffer[] = [];
  let prev = chain.seed;
  for (let at = 0; ; at += chunkSize) {
    const piece = data.subarray(at, Math.min(at + chunkSize, data.length));
    const sig = hmac(key, ['AWS4-HMAC-SHA256-PAYLOAD', chain.amzDate, scope, prev, EMPTY, createHash('sha256').update(piece).digest('hex')].join('\n')).toString('hex');
    out.push(Buffer.from(`${piece.length.toString(16)};chunk-signature=${sig}\r\n`), piece, Buffer.from('\r\n'));
    prev = sig;
    if (piece.length === 0) break;
  }
  return Buffer.concat(out);
}

/**
 * The sluice.toml lines the AWS tests share: S3 names allowed (they resolve to loopback, hence
 * private = true) and one aws credential whose real pair sluice reads from `${envPrefix}_*`.
 */
export function awsCredentialToml(surrogate: { accessKeyId: string; secretAccessKey: string }, envPrefix: string): string {
  return `[[allow]]
host = "*.amazonaws.com"
private = true

[credentials.aws]
type = "aws"
hosts = ["*.amazonaws.com"]
surrogate_access_key_id = "${surrogate.accessKeyId}"
surrogate_secret_access_key = "${surrogate.secretAccessKey}"
access_key_id = { env = "${envPrefix}_ACCESS_KEY_ID" }
secret_access_key = { env = "${envPrefix}_SECRET_ACCESS_KEY" }
session_token = { env = "${envPrefix}_SESSION_TOKEN", optional = true }
`;
}
