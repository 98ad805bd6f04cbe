// Uploads over h2 (what curl speaks when offered it) through sluice's real TLS listener: sluice
// opens its HTTP/2 receive windows beyond the protocol's 64 KiB (src/capture/h2-receive-window.ts,
// the cause of slow uploads), a body many windows long arrives intact, and back-pressure
// still holds: an upstream that stops reading stops the agent after a bounded number of bytes,
// and the upload completes once the upstream reads again. No timing is asserted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http2 from 'node:http2';
import https from 'node:https';
import type http from 'node:http';
import type net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestPki, type TestPki } from '../helpers/pki.ts';
import { startDnsmasq, type TestResolver } from '../helpers/dnsmasq.ts';
import { startTestSluice, type TestSluice } from '../helpers/sluice.ts';
import { curl } from '../helpers/clients.ts';
import { waitFor } from '../helpers/process.ts';
import { H2_CONNECTION_WINDOW_BYTES, H2_STREAM_WINDOW_BYTES } from '../../src/capture/h2-receive-window.ts';
import { h2WindowBudget } from '../../src/pipeline/buffer-budget.ts';
import { HELD_AFTER_END_BYTES } from '../../src/upstream/request-body.ts';

const ORIGIN_ADDRESS = '127.0.0.23';
const HOST = 'upload.test';
const MIB = 1024 * 1024;

let pki: TestPki;
let origin: https.Server;
let dns: TestResolver;
let t: TestSluice;
let ca: Buffer;
/** Requests to /stall wait here, unread, until the test resumes them. */
const stalled: http.IncomingMessage[] = [];

/** Answers `<bytes> <sha256>` of the body it read (for /stall: once the test resumes it). */
function hashBody(req: http.IncomingMessage, res: http.ServerResponse): void {
  const hash = createHash('sha256');
  let bytes = 0;
  req.on('data', (c: Buffer) => {
    bytes += c.length;
    hash.update(c);
  });
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`${bytes} ${hash.digest('hex')}`);
  });
}

/** sluice in front of the origin; `proxyExtra`: more [proxy] keys. */
function sluiceConfig(agent: string, proxyExtra = ''): string {
  return `
[proxy]
agent = "${agent}"
extra_upstream_ca = "${pki.caCert}"
${proxyExtra}

[upstream]
https_port = ${(origin.address() as net.AddressInfo).port}
connect_timeout_ms = 5000

[dns]
upstream = "${dns.address}"

[[allow]]
host = "${HOST}"
private = true
`;
}

beforeAll(async () => {
  pki = await createTestPki();
  const cert = await pki.issue([HOST]);
  origin = https.createServer({ cert: readFileSync(cert.cert), key: readFileSync(cert.key) }, (req, res) => {
    if (req.url === '/stall') {
      req.pause();
      stalled.push(req);
    }
    hashBody(req, res);
  });
  await new Promise<void>((resolve) => origin.listen(0, ORIGIN_ADDRESS, resolve));
  dns = await startDnsmasq({ [HOST]: [ORIGIN_ADDRESS] });
  t = await startTestSluice(sluiceConfig('upload-it'));
  ca = readFileSync(t.caCert);
}, 30_000);

afterAll(async () => {
  for (const req of stalled) req.resume();
  await t?.stop();
  await dns?.stop();
  origin?.closeAllConnections();
  await new Promise<void>((resolve) => (origin ? origin.close(() => resolve()) : resolve()));
});

/** Node's http2 client on sluice's TLS port with SNI = HOST, connected. */
async function connectH2(): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`https://${HOST}`, { ca, servername: HOST, host: '127.0.0.1', port: t.sluice.ports.https } as http2.SecureClientSessionOptions);
  session.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    session.once('remoteSettings', () => resolve());
    session.once('error', reject);
  });
  return session;
}

/** A PING round trip: every frame sluice sent before its PING ACK has been processed. */
function ping(session: http2.ClientHttp2Session): Promise<void> {
  return new Promise((resolve, reject) => {
    session.ping((err) => (err ? reject(err) : resolve()));
  });
}

/** Reads a response to its end: status and body text. */
function response(stream: http2.ClientHttp2Stream): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let status = 0;
    const parts: Buffer[] = [];
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
    });
    stream.on('data', (c: Buffer) => parts.push(c));
    stream.on('end', () => resolve({ status, body: Buffer.concat(parts).toString('utf8') }));
    stream.on('error', reject);
  });
}

describe('h2 uploads through sluice', () => {
  it('advertises a stream window and opens a connection window beyond 64 KiB', async () => {
    const session = await connectH2();
    try {
      expect(H2_STREAM_WINDOW_BYTES).toBeGreaterThan(65_535);
      expect(session.remoteSettings.initialWindowSize).toBe(H2_STREAM_WINDOW_BYTES);
      await ping(session);
      // What the client may still send on the connection: sluice's window, nothing sent yet.
      expect(session.state.remoteWindowSize).toBe(H2_CONNECTION_WINDOW_BYTES);
    } finally {
      session.close();
    }
  });

  it('relays a body many windows long intact (Node client and curl)', async () => {
    const body = randomBytes(24 * MIB);
    const expected = `${body.length} ${createHash('sha256').update(body).digest('hex')}`;
    const session = await connectH2();
    try {
      const stream = session.request({ ':method': 'PUT', ':path': '/put', 'content-length': String(body.length) });
      const answer = response(stream);
      stream.end(body);
      expect(await answer).toEqual({ status: 200, body: expected });
    } finally {
      session.close();
    }
    // curl -T, as the bench uploads: h2 by ALPN, a body read from a file as it is sent (this
    // -w replaces the helper's, keeping its status line last).
    const file = join(t.dir, 'upload.bin');
    writeFileSync(file, body);
    const r = await curl(HOST, '/put', { caCert: t.caCert, port: t.sluice.ports.https, args: ['-T', file, '-H', 'Expect:', '-w', ' %{http_version}\n%{http_code}'] });
    expect(r.code).toBe(0);
    expect(r.body).toBe(`${expected} 2`);
    expect(r.status).toBe(200);
  }, 60_000);

  it('stops the agent after a bounded number of bytes while the upstream does not read, then completes', async () => {
    const total = 256 * MIB;
    const chunk = randomBytes(MIB);
    const session = await connectH2();
    try {
      const stream = session.request({ ':method': 'PUT', ':path': '/stall', 'content-length': String(total) });
      const answer = response(stream);
      // Writes the whole body, one MiB at a time, as fast as the stream takes it.
      let written = 0;
      const writeAll = async (): Promise<void> => {
        while (written < total) {
          written += chunk.length;
          if (!stream.write(chunk)) await new Promise<void>((resolve) => stream.once('drain', resolve));
        }
        stream.end();
      };
      const writing = writeAll();
      await waitFor(() => stalled.length === 1, 10_000, 'the request at the origin');
      // Wait until the client's socket stops moving: flow control has stopped it.
      const sent = (): number => session.socket.bytesWritten;
      let last = -1;
      let still = 0;
      await waitFor(() => {
        const now = sent();
        still = now === last ? still + 1 : 0;
        last = now;
        return still >= 5;
      }, 30_000, 'the upload to stall');
      // Held by then: the kernel's socket buffers on both legs, undici's and Node's stream
      // buffers, and at most one stream window in sluice (5–6 MiB in all, measured). With
      // windows that never close (2^31 − 1), sluice took the whole 256 MiB.
      expect(sent()).toBeLessThan(32 * MIB);
      expect(written).toBeLessThan(total);
      (stalled[0] as http.IncomingMessage).resume();
      await writing;
      const got = await answer;
      expect(got.status).toBe(200);
      expect(got.body.split(' ')[0]).toBe(String(total));
    } finally {
      session.close();
    }
  }, 90_000);

  it('a client that goes away mid-body leaves no stream holding a window', async () => {
    const session = await connectH2();
    const before = stalled.length;
    const streams = [1, 2, 3].map(() => session.request({ ':method': 'PUT', ':path': '/stall', 'content-length': String(2 * MIB) }));
    for (const s of streams) {
      s.on('error', () => {});
      s.write(randomBytes(64 * 1024));
    }
    await waitFor(() => stalled.length === before + 3, 10_000, 'three uploads at the origin');
    expect(h2WindowBudget.usedBytes).toBe(3 * H2_STREAM_WINDOW_BYTES);
    // The client's TCP connection ends (FIN) with the three bodies unfinished: they can never
    // complete, so sluice cancels them and gives their windows back.
    session.destroy();
    await waitFor(() => h2WindowBudget.usedBytes === 0, 5_000, 'the windows to be given back');
  });

  it('once a body has ended, its stream holds only what sluice may still hold of it, until the answer', async () => {
    const session = await connectH2();
    try {
      const before = stalled.length;
      const stream = session.request({ ':method': 'PUT', ':path': '/stall', 'content-length': String(32 * 1024) });
      stream.on('error', () => {});
      stream.end(randomBytes(32 * 1024));
      await waitFor(() => stalled.length === before + 1, 10_000, 'the upload at the origin');
      // The body is complete and read; the origin has not answered. Node buffers nothing more for
      // the stream: its reservation shrinks to sluice's own body stream bound, not to 0.
      await waitFor(() => h2WindowBudget.usedBytes === HELD_AFTER_END_BYTES, 5_000, 'the reservation to shrink');
      const answered = new Promise<string>((resolve) => stream.once('response', (h) => resolve(String(h[':status']))));
      stream.resume();
      (stalled[before] as http.IncomingMessage).resume();
      expect(await answered).toBe('200');
      await waitFor(() => h2WindowBudget.usedBytes === 0, 5_000, 'the reservation to be released');
    } finally {
      session.destroy();
    }
  });

  it('reserves each body stream\'s window from the window budget: past it, 503 over_capacity, nothing buffered', async () => {
    // A sluice of its own with room for three stream windows. (The budget is process-wide, so
    // this test comes last in this file.)
    const small = await startTestSluice(sluiceConfig('upload-budget', `buffer_budget_bytes = ${3 * H2_STREAM_WINDOW_BYTES}`));
    const session = http2.connect(`https://${HOST}`, { ca: readFileSync(small.caCert), servername: HOST, host: '127.0.0.1', port: small.sluice.ports.https } as http2.SecureClientSessionOptions);
    session.on('error', () => {});
    const before = stalled.length;
    try {
      const streams = Array.from({ length: 5 }, () => session.request({ ':method': 'PUT', ':path': '/stall', 'content-length': String(2 * MIB) }));
      const answers = streams.map((s) => ({ stream: s, reason: new Promise<string | undefined>((resolve) => s.on('response', (h) => resolve(h['x-sluice-reason'] as string | undefined))), done: response(s) }));
      for (const s of streams) s.write(randomBytes(256 * 1024));
      await waitFor(() => stalled.length === before + 3, 10_000, 'three uploads at the origin');
      const refused = await Promise.race([Promise.all(answers.slice(3).map((a) => a.done)), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no refusal')), 10_000))]);
      expect(refused.map((r) => r.status)).toEqual([503, 503]);
      expect(await Promise.all(answers.slice(3).map((a) => a.reason))).toEqual(['over_capacity', 'over_capacity']);
      expect(stalled.length).toBe(before + 3);
      // The refused streams' bodies were never finished: the agent gives them up.
      for (const a of answers.slice(3)) a.stream.close(http2.constants.NGHTTP2_CANCEL);
      // The three held ones finish once the origin reads; their windows go back to the budget.
      for (const req of stalled.slice(before)) req.resume();
      for (const a of answers.slice(0, 3)) a.stream.end(randomBytes(2 * MIB - 256 * 1024));
      expect((await Promise.all(answers.slice(0, 3).map((a) => a.done))).map((r) => r.status)).toEqual([200, 200, 200]);
      const again = session.request({ ':method': 'PUT', ':path': '/put', 'content-length': '5' });
      const answer = response(again);
      again.end('hello');
      expect(await answer).toEqual({ status: 200, body: `5 ${createHash('sha256').update('hello').digest('hex')}` });
      // Access lines are written in batches (at most a quarter second late).
      const refusalsLogged = (): number => readFileSync(join(small.dir, 'logs', 'access.ndjson'), 'utf8').match(/"reason":"over_capacity"/g)?.length ?? 0;
      await waitFor(() => refusalsLogged() === 2, 5_000, 'both refusals in access.ndjson');
    } finally {
      session.close();
      await small.stop();
    }
  }, 60_000);
});
