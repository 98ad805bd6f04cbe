// A fake LLM provider for the audit-log suites: an HTTPS origin (certificate from the test PKI)
// that answers every request with a fixture from test/fixtures/llm/, byte for byte, written in
// awkward pieces (an event split across writes, several events in one write) the way a real
// provider's stream reaches sluice over TCP. Request headers choose the behaviour:
//   x-test-fixture: NAME        the file to replay (.sse → text/event-stream, else JSON)
//   x-test-status: CODE         the status to answer with (default 200)
//   x-test-encoding: CODING     gzip | deflate | br | zstd, compressed as it streams
//   x-test-cut: BYTES           send that many body bytes, then reset the connection
//   x-test-stall: BYTES         send that many body bytes, then wait until the client goes away
//   x-test-pause-ms: MS         after the first event, wait this long before the rest
//   x-test-interval-ms: MS      one event per write, this long apart, times kept by x-test-run
// `{{API_KEY}}` in a fixture becomes the x-api-key / bearer token the origin received (an
// upstream echoing the real secret).
import https from 'node:https';
import type http from 'node:http';
import zlib from 'node:zlib';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';

export interface ReceivedRequest {
  host: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface LlmOrigin {
  port: number;
  received: ReceivedRequest[];
  /** The exact body bytes the origin sent for each request, in order. */
  sent: Buffer[];
  /** x-test-interval-ms requests: performance.now() when each event was written, by x-test-run. */
  eventTimes: Map<string, number[]>;
  stop(): Promise<void>;
}

const SIZES = [1, 7, 150, 2, 333, 5, 64, 1, 900, 13];

export function fixtureBytes(name: string): Buffer {
  return readFileSync(new URL(`../fixtures/llm/${name}`, import.meta.url));
}

function encoder(coding: string | undefined): zlib.Gzip | zlib.Deflate | zlib.BrotliCompress | zlib.ZstdCompress | undefined {
  switch (coding) {
    case 'gzip':
      return zlib.createGzip();
    case 'deflate':
      return zlib.createDeflate();
    case 'br':
      return zlib.createBrotliCompress();
    case 'zstd':
      return zlib.createZstdCompress();
    default:
      return undefined;
  }
}

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes `body` in awkward pieces, honouring pause / cut / stall; resolves when done. */
async function replay(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, sent: Buffer[], eventTimes: Map<string, number[]>): Promise<void> {
  const header = (name: string): string | undefined => req.headers[name] as string | undefined;
  const coding = header('x-test-encoding');
  const cut = header('x-test-cut') === undefined ? undefined : Number(header('x-test-cut'));
  const stall = header('x-test-stall') === undefined ? undefined : Number(header('x-test-stall'));
  const pauseMs = Number(header('x-test-pause-ms') ?? '0');
  const firstEventEnd = body.indexOf('\n\n') + 2;
  const out: Buffer[] = [];
  sent.push(Buffer.alloc(0));
  const index = sent.length - 1;
  const emit = (bytes: Buffer): void => {
    out.push(bytes);
    sent[index] = Buffer.concat(out);
    res.write(bytes);
  };
  const compress = encoder(coding);
  compress?.on('data', (d: Buffer) => emit(d));
  const write = async (piece: Buffer): Promise<void> => {
    if (compress !== undefined) {
      compress.write(piece);
      await new Promise<void>((resolve) => compress.flush(() => resolve()));
    } else {
      emit(piece);
    }
    // Let each piece leave as its own TCP write.
    await wait(1);
  };
  const intervalMs = Number(header('x-test-interval-ms') ?? '0');
  if (intervalMs > 0) {
    const events = body.toString('utf8').split(/(?<=\n\n)/);
    const times: number[] = [];
    eventTimes.set(String(header('x-test-run')), times);
    for (const event of events) {
      times.push(performance.now());
      await write(Buffer.from(event));
      await wait(intervalMs);
      if (res.destroyed) return;
    }
    res.end();
    return;
  }
  const limit = cut ?? stall ?? body.length;
  let at = 0;
  for (let i = 0; at < limit; i++) {
    let n = Math.min(SIZES[i % SIZES.length] as number, limit - at);
    if (pauseMs > 0 && at < firstEventEnd && at + n > firstEventEnd) n = firstEventEnd - at;
    await write(body.subarray(at, at + n));
    at += n;
    if (pauseMs > 0 && at === firstEventEnd) await wait(pauseMs);
    if (res.destroyed) return;
  }
  if (cut !== undefined) {
    await wait(50);
    req.socket.destroy();
    return;
  }
  if (stall !== undefined) {
    await new Promise<void>((resolve) => res.once('close', () => resolve()));
    return;
  }
  if (compress !== undefined) {
    await new Promise<void>((resolve) => {
      compress.once('end', () => resolve());
      compress.end();
    });
  }
  res.end();
}

export async function startLlmOrigin(cert: { cert: string; key: string }, address: string): Promise<LlmOrigin> {
  const received: ReceivedRequest[] = [];
  const sent: Buffer[] = [];
  const eventTimes = new Map<string, number[]>();
  const sockets = new Set<Socket>();
  const server = https.createServer({ cert: readFileSync(cert.cert), key: readFileSync(cert.key) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.push({ host: String(req.headers.host), path: req.url ?? '/', headers: req.headers, body });
      const name = String(req.headers['x-test-fixture'] ?? '');
      let fixture: Buffer;
      try {
        fixture = fixtureBytes(name);
      } catch {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no such fixture"}');
        return;
      }
      const auth = String(req.headers['x-api-key'] ?? String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
      fixture = Buffer.from(fixture.toString('utf8').replaceAll('{{API_KEY}}', auth));
      const headers: http.OutgoingHttpHeaders = {
        'content-type': name.endsWith('.sse') ? 'text/event-stream; charset=utf-8' : 'application/json',
        'request-id': 'req_test',
      };
      if (req.headers['x-test-encoding'] !== undefined) headers['content-encoding'] = String(req.headers['x-test-encoding']);
      res.writeHead(Number(req.headers['x-test-status'] ?? '200'), headers);
      replay(req, res, fixture, sent, eventTimes).catch(() => res.destroy());
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.setNoDelay(true);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    received,
    sent,
    eventTimes,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
