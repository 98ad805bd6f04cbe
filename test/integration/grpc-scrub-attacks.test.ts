// Attacks on the scrub of gRPC responses from credential hosts, with sluice, an h2 origin
// (Node's http2, writing gRPC's wire format byte for byte: grpc-js's server cannot compress
// responses) and real clients (Node's https; @grpc/grpc-js, which inflates what it is sent).
//
// 1. The message-end release: on a host where a credential is swapped into request bodies, the
//    agent frames its body so that the surrogate sits whole inside a message (sluice swaps
//    it), but the real value, longer than the surrogate, runs past the length prefix the agent
//    wrote. An echo sends those bytes back as `application/grpc`, in two writes split at that
//    declared end. A scrub that trusted the declared end released the value's first part
//    before its rest came: the agent had the whole value in two pieces.
// 2. Per-message compression: gRPC compresses each message (flag 1, `grpc-encoding`), not the
//    HTTP body. A server that echoes the authorization metadata in a gzip'd reply passed the
//    real token to a gRPC client, which inflates it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http2 from 'node:http2';
import https from 'node:https';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { createTestPki } from '../helpers/pki.ts';
import { startDnsmasq, type TestResolver } from '../helpers/dnsmasq.ts';
import { grpcHeader as header } from '../helpers/grpc-message.ts';
import { localOriginToml, secretFile } from '../helpers/local-origin.ts';
import { startTestSluice, type TestSluice } from '../helpers/sluice.ts';
import { skipUnlessTools } from '../helpers/tools.ts';

const skip = skipUnlessTools('grpc scrub attacks', ['openssl', 'dnsmasq']);

const REAL = 'REAL-echo-secret-QRSTUVWXYZ-ghijklmnopqr'; // 40 characters
const SURROGATE = 'sluice-surrogate-0123456789abcdef'; // 33: the swap changes the length

// The header-only credential of the second attack, on zip.test.
const HDR_REAL = 'hdr-REAL-token-MNOPQRSTUVWXYZ-0123456789';
const HDR_SURROGATE = 'hdr-sluice-surrogate-abcdefghijklmn';


/**
 * The echo.Echo service as the origin plays it. Say: the body back, in two writes `x-split-at`
 * apart in time (an echo that writes what it read as it read it, at the worst moment). Zip and
 * Snappy: a unary reply quoting the authorization metadata in one message compressed with
 * gzip, its `grpc-encoding` gzip, or (Snappy) named snappy, which sluice cannot inflate.
 */
function serveEcho(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  acceptEncodings.push(String(headers['accept-encoding']));
  const parts: Buffer[] = [];
  stream.on('data', (c: Buffer) => parts.push(c));
  stream.on('end', () => {
    const body = Buffer.concat(parts);
    if (headers[':method'] === 'HEAD') {
      // Compresses although asked not to: the length of its gzip'd answer.
      stream.respond({ ':status': 200, 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': '1234', 'grpc-encoding': 'gzip' });
      stream.end();
      return;
    }
    if (headers[':path'] === '/stray') {
      // Not gRPC, but naming a gRPC encoding: read as messages, it fails; with no trailers to say so.
      stream.respond({ ':status': 200, 'content-type': 'application/json', 'grpc-encoding': 'gzip' });
      stream.end('{"ok":true}');
      return;
    }
    if (headers[':path'] === '/echo.Echo/Say') {
      const split = Number(headers['x-split-at'] ?? body.length);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.write(body.subarray(0, split));
      setTimeout(() => stream.end(body.subarray(split)), 300);
      return;
    }
    if (headers[':path'] === '/echo.Echo/Cut') {
      // A server stream: one plain message, then a compressed one cut short, then status OK.
      const first = Buffer.from(JSON.stringify({ text: 'first' }));
      const zipped = gzipSync(JSON.stringify({ text: 'second' }));
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-encoding': 'gzip' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.concat([header(first.length), first, header(zipped.length, 1), zipped.subarray(0, 5)]));
      return;
    }
    const reply = gzipSync(JSON.stringify({ text: `you sent ${String(headers.authorization)}` }));
    const encoding = headers[':path'] === '/echo.Echo/Snappy' ? 'snappy' : 'gzip';
    const type = headers[':path'] === '/echo.Echo/Mislabeled' ? 'text/plain' : 'application/grpc';
    stream.respond({ ':status': 200, 'content-type': type, 'grpc-encoding': encoding }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(Buffer.concat([header(reply.length, 1), reply]));
  });
}

/** The accept-encoding of every request the origin got. */
const acceptEncodings: string[] = [];
let origin: http2.Http2SecureServer;
let dns: TestResolver;
let t: TestSluice;

beforeAll(async () => {
  if (skip !== undefined) return;
  const pki = await createTestPki();
  const cert = await pki.issue(['echo.test', 'zip.test']);
  origin = http2.createSecureServer({ cert: readFileSync(cert.cert), key: readFileSync(cert.key), allowHTTP1: true });
  origin.on('stream', serveEcho);
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const port = (origin.address() as AddressInfo).port;
  dns = await startDnsmasq({ 'echo.test': ['127.0.0.1'], 'zip.test': ['127.0.0.1'] });
  t = await startTestSluice(`${localOriginToml({ caCert: pki.caCert, port, dns, names: ['echo.test', 'zip.test'] })}
[credentials.echo]
hosts = ["echo.test"]
surrogate = "${SURROGATE}"
secret = { file = "${secretFile(REAL)}" }
body = true
[credentials.hdr]
hosts = ["zip.test"]
surrogate = "${HDR_SURROGATE}"
secret = { file = "${secretFile(HDR_REAL)}" }
`);
});

afterAll(async () => {
  await t?.stop();
  origin?.close();
  await dns?.stop();
});

/** POSTs `body` as gRPC to echo.test through sluice; the answer's status and body. */
function post(body: Buffer, splitAt: number, path = '/echo.Echo/Say', method = 'POST', host = 'echo.test'): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1',
      port: t.sluice.ports.https,
      servername: host,
      ca: readFileSync(t.caCert),
      method,
      path,
      headers: { host, 'content-type': 'application/grpc', 'x-split-at': String(splitAt), 'content-length': body.length, 'accept-encoding': 'gzip, br' },
    }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Msg {
  text: string;
}

/** A unary call from @grpc/grpc-js to zip.test through sluice, holding the surrogate. */
function unary(method: 'Zip' | 'Snappy' | 'Mislabeled'): Promise<{ reply?: Msg; error?: grpc.ServiceError }> {
  const ser = (m: Msg): Buffer => Buffer.from(JSON.stringify(m));
  const de = (b: Buffer): Msg => JSON.parse(String(b)) as Msg;
  const Client = grpc.makeGenericClientConstructor({
    [method]: { path: `/echo.Echo/${method}`, requestStream: false, responseStream: false, requestSerialize: ser, requestDeserialize: de, responseSerialize: ser, responseDeserialize: de },
  }, 'Echo');
  const creds = grpc.credentials.combineChannelCredentials(
    grpc.credentials.createSsl(readFileSync(t.caCert)),
    grpc.credentials.createFromMetadataGenerator((_p, cb) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${HDR_SURROGATE}`);
      cb(null, md);
    }),
  );
  const client = new Client(`127.0.0.1:${t.sluice.ports.https}`, creds, { 'grpc.ssl_target_name_override': 'zip.test', 'grpc.default_authority': 'zip.test' }) as unknown as Record<string, (...args: unknown[]) => unknown> & grpc.Client;
  return new Promise((resolve) => {
    client[method]?.({ text: 'hi' }, (error: grpc.ServiceError | null, reply: Msg) => {
      client.close();
      resolve(error === null ? { reply } : { error });
    });
  });
}

/** A server-streaming call from @grpc/grpc-js to zip.test: the messages and how it ended. */
function serverStream(method: 'Cut'): Promise<{ messages: Msg[]; status?: grpc.StatusObject; error?: grpc.ServiceError }> {
  const ser = (m: Msg): Buffer => Buffer.from(JSON.stringify(m));
  const de = (b: Buffer): Msg => JSON.parse(String(b)) as Msg;
  const Client = grpc.makeGenericClientConstructor({
    [method]: { path: `/echo.Echo/${method}`, requestStream: false, responseStream: true, requestSerialize: ser, requestDeserialize: de, responseSerialize: ser, responseDeserialize: de },
  }, 'Echo');
  const client = new Client(`127.0.0.1:${t.sluice.ports.https}`, grpc.credentials.createSsl(readFileSync(t.caCert)), { 'grpc.ssl_target_name_override': 'zip.test', 'grpc.default_authority': 'zip.test' }) as unknown as Record<string, (...args: unknown[]) => grpc.ClientReadableStream<Msg>> & grpc.Client;
  return new Promise((resolve) => {
    const messages: Msg[] = [];
    let error: grpc.ServiceError | undefined;
    const call = client[method]?.({ text: 'hi' }) as grpc.ClientReadableStream<Msg>;
    call.on('data', (m: Msg) => messages.push(m));
    call.on('error', (e: grpc.ServiceError) => (error = e));
    call.on('status', (status: grpc.StatusObject) => {
      client.close();
      setImmediate(() => resolve({ messages, status, error }));
    });
  });
}

describe.skipIf(skip)('gRPC per-message compression on a credential host', () => {
  it('a stream whose compressed message is cut short ends INTERNAL, not OK with the message gone', async () => {
    const got = await serverStream('Cut');
    expect(got.messages).toEqual([{ text: 'first' }]);
    expect(got.status?.code).toBe(grpc.status.INTERNAL);
    expect(got.status?.details).toContain('could not inspect for secrets');
  });

  it('a gzip\'d message quoting the real token reaches the gRPC client inflated and scrubbed', async () => {
    const got = await unary('Zip');
    expect(got.error).toBeUndefined();
    // Replaced in place, padded to the real token's length (a message's length prefix stays true).
    expect(got.reply?.text).toMatch(new RegExp(`^you sent Bearer ${HDR_SURROGATE}\\*+$`));
    expect(got.reply?.text).toHaveLength(`you sent Bearer ${HDR_REAL}`.length);
    const line = await t.waitForLog((l) => l.host === 'zip.test' && l.path === '/echo.Echo/Zip');
    expect(line).toMatchObject({ status: 200, credential: 'hdr' });
  });

  it('a gzip\'d reply labelled text/plain is inflated and scrubbed too (a gRPC client inflates it whatever the label)', async () => {
    const got = await unary('Mislabeled');
    expect(got.error).toBeUndefined();
    expect(got.reply?.text).toMatch(new RegExp(`^you sent Bearer ${HDR_SURROGATE}\\*+$`));
  });

  it('a message compressed with an algorithm sluice cannot inflate ends the call INTERNAL, its bytes withheld', async () => {
    const got = await unary('Snappy');
    expect(got.reply).toBeUndefined();
    expect(got.error?.code).toBe(grpc.status.INTERNAL);
    expect(got.error?.details).toContain('could not inspect for secrets');
    expect(JSON.stringify(got)).not.toContain(HDR_REAL.slice(0, 12));
    const line = await t.waitForLog((l) => l.host === 'zip.test' && l.path === '/echo.Echo/Snappy');
    expect(JSON.stringify(line.trace)).toContain('cut_uninspectable_grpc');
  });
});

describe.skipIf(skip)('compressed sizes on a credential host (BREACH)', () => {
  it('asks the upstream for no compression, and a HEAD answer compressed anyway shows no length', async () => {
    const got = await post(Buffer.alloc(0), 0, '/any', 'HEAD', 'zip.test');
    expect(got.status).toBe(200);
    expect(got.headers['content-length']).toBeUndefined();
    expect(got.headers['content-encoding']).toBeUndefined();
    expect(acceptEncodings.at(-1)).toBe('identity');
  });

  it('a body that names a gRPC encoding but is not gRPC, failing, is cut rather than ended as if whole', async () => {
    await expect(post(Buffer.alloc(0), 0, '/stray', 'POST', 'zip.test')).rejects.toThrow(/aborted|socket hang up|ECONNRESET/);
    const line = await t.waitForLog((l) => l.host === 'zip.test' && l.path === '/stray');
    expect(line).toMatchObject({ outcome: 'cut_off', reason: 'upstream_error', bytes_out: 0 });
    expect(line.message).toMatch(/no trailers to carry the error$/);
  });
});

describe.skipIf(skip)('gRPC scrub on a host that swaps in request bodies', () => {
  it('an echo split at a message end the agent declared inside the real value passes no part of it', async () => {
    const pad = 'x'.repeat(10);
    // The message as the agent frames it: the surrogate whole inside (sluice swaps it).
    const payload = Buffer.from(pad + SURROGATE);
    const body = Buffer.concat([header(payload.length), payload]);
    // Upstream the real value is 7 bytes longer; the declared end falls 33 bytes into it.
    const declaredEnd = 5 + payload.length;
    const got = await post(body, declaredEnd);
    expect(got.status).toBe(200);
    const text = got.body.toString('latin1');
    // The echo held the real value (the swap happened), and the agent sees none of it: the
    // scrub kept its window and replaced the value whole, in place (its length kept). Nothing
    // read the bogus framing as frames, so nothing failed on the value's bytes either.
    for (let i = 0; i + 8 <= REAL.length; i += 4) expect(text, `real bytes ${i}..${i + 8}`).not.toContain(REAL.slice(i, i + 8));
    expect(got.body.length).toBe(5 + pad.length + REAL.length);
    expect(text.slice(5)).toMatch(new RegExp(`^${pad}${SURROGATE}\\*+$`));
    const line = await t.waitForLog((l) => l.host === 'echo.test' && l.path === '/echo.Echo/Say');
    expect(line.credential).toBe('echo');
    expect(JSON.stringify(line.trace)).not.toContain('cut_uninspectable_grpc');
  });

  it('a HEAD answer naming a compressed encoding is no body to refuse: it passes', async () => {
    const got = await post(Buffer.alloc(0), 0, '/any', 'HEAD', 'echo.test');
    expect(got.status).toBe(200);
    expect(got.headers['content-length']).toBeUndefined();
  });

  it('a compressed response from that host is refused on its headers, whatever its messages hold', async () => {
    const got = await post(Buffer.alloc(0), 0, '/echo.Echo/Zip');
    expect(got.body).toHaveLength(0);
    const line = await t.waitForLog((l) => l.host === 'echo.test' && l.path === '/echo.Echo/Zip');
    expect(JSON.stringify(line.trace)).toContain('a compressed response on a host where a credential is swapped into request bodies');
  });
});
