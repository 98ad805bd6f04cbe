// The fast path for HTTP/1 requests without a body (src/capture/empty-request-fast-path.ts), on
// the kind of server each listener runs: an Http2SecureServer taking HTTP/1.1 (the TLS
// listener) and http.createServer (the plain-HTTP listener). A request without Content-Length
// and Transfer-Encoding arrives already ended; one with a body still streams it; pipelined
// requests are answered in order with their own bodies.
import http from 'node:http';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import type net from 'node:net';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { EMPTY_REQUEST_FAST_PATH, SECURE_SERVER_HTTP1_OPTIONS } from '../../src/capture/empty-request-fast-path.ts';
import { createTestPki, type TestPki } from '../helpers/pki.ts';
import { head, openTcp, openTls, type RawConnection } from '../helpers/raw-http.ts';
import { startTestSluice } from '../helpers/sluice.ts';

let pki: TestPki;
let cert: { cert: string; key: string };

beforeAll(async () => {
  pki = await createTestPki();
  cert = await pki.issue(['origin.test']);
});

interface Seen {
  method: string;
  /** req.readableEnded when the 'request' event fired. */
  endedOnArrival: boolean;
}

/** Answers each request with "METHOD:BODY" once its body is read; records what it saw. */
function answer(seen: Seen[]) {
  return (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void => {
    seen.push({ method: req.method ?? '', endedOnArrival: req.readableEnded });
    const parts: Buffer[] = [];
    const reply = (): void => {
      const body = `${req.method}:${Buffer.concat(parts).toString()}`;
      (res as http.ServerResponse).writeHead(200, { 'content-length': Buffer.byteLength(body) }).end(body);
    };
    if (req.readableEnded) {
      reply();
      return;
    }
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', reply);
  };
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    (server as http.Server).closeAllConnections?.();
    server.close(() => resolve());
  });
}

const GET = head('GET /a HTTP/1.1', 'Host: origin.test');
const POST = `${head('POST /b HTTP/1.1', 'Host: origin.test', 'Content-Length: 5')}hello`;
const CHUNKED = `${head('PUT /c HTTP/1.1', 'Host: origin.test', 'Transfer-Encoding: chunked')}3\r\nabc\r\n0\r\n\r\n`;

async function exchange(conn: RawConnection, requests: string, count: number): Promise<string[]> {
  await conn.write(requests);
  const bodies: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = await conn.response();
    expect(r.status).toBe(200);
    bodies.push(r.body.toString());
  }
  return bodies;
}

/** Listens on `server`, sends `requests` on one connection, returns the `count` bodies answered. */
async function sendThrough(server: net.Server, connect: (port: number) => Promise<RawConnection>, requests: string, count: number): Promise<string[]> {
  const port = await listen(server);
  try {
    const conn = await connect(port);
    const bodies = await exchange(conn, requests, count);
    conn.destroy();
    return bodies;
  } finally {
    await close(server);
  }
}

const overTls = (port: number): Promise<RawConnection> => openTls(port, 'origin.test', pki.caCert);

function secureServer(seen: Seen[], fastPath: boolean): http2.Http2SecureServer {
  const server = http2.createSecureServer({
    allowHTTP1: true,
    cert: readFileSync(cert.cert),
    key: readFileSync(cert.key),
    ...(fastPath ? { http1Options: SECURE_SERVER_HTTP1_OPTIONS } : {}),
  });
  server.on('request', answer(seen));
  return server;
}

describe('HTTP/1 requests without a body on an Http2SecureServer (the TLS listener)', () => {
  it('arrive ended once the fast path is on; bodies, chunked bodies and pipelining still work', async () => {
    const seen: Seen[] = [];
    // One connection, pipelined: answered in order, each with its own body.
    expect(await sendThrough(secureServer(seen, true), overTls, GET + POST + GET + CHUNKED + GET, 5)).toEqual(['GET:', 'POST:hello', 'GET:', 'PUT:abc', 'GET:']);
    expect(seen).toEqual([
      { method: 'GET', endedOnArrival: true },
      { method: 'POST', endedOnArrival: false },
      { method: 'GET', endedOnArrival: true },
      { method: 'PUT', endedOnArrival: false },
      { method: 'GET', endedOnArrival: true },
    ]);
  });

  it('arrive as streams without it (what the fast path changes)', async () => {
    const seen: Seen[] = [];
    expect(await sendThrough(secureServer(seen, false), overTls, GET, 1)).toEqual(['GET:']);
    expect(seen).toEqual([{ method: 'GET', endedOnArrival: false }]);
  });
});

describe('HTTP/1 requests without a body on http.createServer (the plain-HTTP listener)', () => {
  it('arrive ended with the option sluice passes; a body still streams', async () => {
    const seen: Seen[] = [];
    expect(await sendThrough(http.createServer({ ...EMPTY_REQUEST_FAST_PATH }, answer(seen)), openTcp, GET + POST, 2)).toEqual(['GET:', 'POST:hello']);
    expect(seen).toEqual([
      { method: 'GET', endedOnArrival: true },
      { method: 'POST', endedOnArrival: false },
    ]);
  });
});

describe("sluice's TLS listener", () => {
  it('takes a GET without a body on the fast path, and a POST with one off it', async () => {
    const seen: Seen[] = [];
    const original = http2.createSecureServer.bind(http2);
    const spy = vi.spyOn(http2, 'createSecureServer').mockImplementation(((options: http2.SecureServerOptions, listener?: () => void) => {
      const server = original(options, listener);
      server.prependListener('request', (req: http.IncomingMessage) => seen.push({ method: req.method ?? '', endedOnArrival: req.readableEnded }));
      return server;
    }) as typeof http2.createSecureServer);
    const t = await startTestSluice('[[allow]]\nhost = "origin.test"\n');
    spy.mockRestore();
    try {
      const conn = await openTls(t.sluice.ports.https, 'origin.test', t.caCert);
      // No upstream answers here: what matters is how each request reached sluice.
      await conn.write(GET);
      await conn.response();
      await conn.write(POST);
      await conn.response();
      conn.destroy();
    } finally {
      await t.stop();
    }
    expect(seen).toEqual([
      { method: 'GET', endedOnArrival: true },
      { method: 'POST', endedOnArrival: false },
    ]);
  });
});
