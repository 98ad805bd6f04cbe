// DESIGN.md §1 "Limits and edge rules", client side: request headers within
// [client] headers_timeout_ms (slowloris), idle keep-alive closed after keepalive_timeout_ms,
// header size and count capped with 431, and a half-close after the request keeps the
// response. Raw sockets, so the bytes on the wire are exactly the attack.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http2 from 'node:http2';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startEdgeFixture, type EdgeFixture } from '../helpers/edge-fixture.ts';
import { openTcp, openTls, head, type RawConnection } from '../helpers/raw-http.ts';
import { curl } from '../helpers/clients.ts';
import { skipUnlessTools } from '../helpers/tools.ts';

const skip = skipUnlessTools('client-limits', ['openssl', 'nginx', 'dnsmasq', 'curl']);

const HEADERS_TIMEOUT_MS = 2500;
const KEEPALIVE_TIMEOUT_MS = 500;
// Node 24 keeps an idle keep-alive socket open keepAliveTimeoutBuffer (1 s) past
// keepAliveTimeout, so the Keep-Alive header it advertises stays safely inside the real close.
const NODE_KEEPALIVE_BUFFER_MS = 1000;
/** The latest an idle keep-alive connection may close: the limit, Node's buffer, and scheduling slack. */
const KEEPALIVE_LIMIT_MS = KEEPALIVE_TIMEOUT_MS + NODE_KEEPALIVE_BUFFER_MS + 400;
const MAX_HEADER_BYTES = 8192;
const MAX_HEADER_COUNT = 20;

let f: EdgeFixture;

beforeAll(async () => {
  f = await startEdgeFixture({
    client: {
      headers_timeout_ms: HEADERS_TIMEOUT_MS,
      keepalive_timeout_ms: KEEPALIVE_TIMEOUT_MS,
      max_header_bytes: MAX_HEADER_BYTES,
      max_header_count: MAX_HEADER_COUNT,
    },
  });
});

afterAll(async () => {
  await f?.stop();
});

type Listener = 'tls' | 'http';
const LISTENERS: Listener[] = ['tls', 'http'];

function connect(listener: Listener, host = 'origin.test'): Promise<RawConnection> {
  return listener === 'tls' ? openTls(f.t.sluice.ports.https, host, f.t.caCert) : openTcp(f.t.sluice.ports.http);
}

/**
 * Classic slowloris: a request head that never ends, one byte of one header value every
 * 250 ms (so no size or count limit is what stops it). Returns ms until sluice closed.
 */
async function trickle(conn: RawConnection, deadlineMs: number): Promise<number | undefined> {
  const started = performance.now();
  await conn.write('GET / HTTP/1.1\r\nHost: origin.test\r\nX-Slow: ');
  while (!conn.closed && performance.now() - started < deadlineMs) {
    await new Promise((r) => setTimeout(r, 250));
    if (conn.closed) break;
    await conn.write('a').catch(() => undefined);
  }
  return conn.waitClosed(0, started);
}

describe.skipIf(skip)('slowloris: request headers must arrive within headers_timeout_ms', () => {
  for (const listener of LISTENERS) {
    it(`closes a ${listener} connection whose headers trickle in, within 2× the limit`, async () => {
      const conn = await connect(listener);
      try {
        const ms = await trickle(conn, 3 * HEADERS_TIMEOUT_MS);
        console.log(`[slowloris ${listener}] closed after ${ms === undefined ? 'never (still open)' : `${Math.round(ms)} ms`}; limit ${HEADERS_TIMEOUT_MS} ms`);
        expect(ms, 'connection still open after 3× the headers timeout').toBeDefined();
        expect(ms).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS * 0.9);
        expect(ms).toBeLessThanOrEqual(2 * HEADERS_TIMEOUT_MS + 250);
      } finally {
        conn.destroy();
      }
    });
  }

  for (const listener of LISTENERS) {
    it(`closes a ${listener} connection that sends half a request head and then nothing, within 2× the limit`, async () => {
      const conn = await connect(listener);
      try {
        const started = performance.now();
        await conn.write('GET / HTTP/1.1\r\nHost: origin.test\r\nX-Half: ');
        const ms = await conn.waitClosed(3 * HEADERS_TIMEOUT_MS, started);
        expect(ms, 'connection still open after 3× the headers timeout').toBeDefined();
        expect(ms).toBeLessThanOrEqual(2 * HEADERS_TIMEOUT_MS + 250);
      } finally {
        conn.destroy();
      }
    });

    it(`closes a ${listener} connection that never sends a request, within 2× the limit`, async () => {
      // TLS: the handshake completes, then silence.
      const conn = await connect(listener);
      try {
        const ms = await conn.waitClosed(3 * HEADERS_TIMEOUT_MS);
        expect(ms, 'connection still open after 3× the headers timeout').toBeDefined();
        expect(ms).toBeLessThanOrEqual(2 * HEADERS_TIMEOUT_MS + 250);
      } finally {
        conn.destroy();
      }
    });
  }

  it('closes a TCP connection on the TLS port that never sends a ClientHello, within 2× the limit', async () => {
    const conn = await openTcp(f.t.sluice.ports.https);
    try {
      const ms = await conn.waitClosed(4 * HEADERS_TIMEOUT_MS);
      expect(ms, 'connection still open after 4× the headers timeout').toBeDefined();
      expect(ms).toBeLessThanOrEqual(2 * HEADERS_TIMEOUT_MS + 250);
    } finally {
      conn.destroy();
    }
  });

  it('still serves a client that sends its headers in time', async () => {
    const r = await curl('origin.test', '/', f.opts());
    expect(r.status).toBe(200);
  });
});

/** Calls `feed` every 200 ms from `since` until `isClosed()`, for at most 1.5 s past the keep-alive limit. */
async function feedWhileOpen(isClosed: () => boolean, feed: () => unknown, since: number): Promise<void> {
  while (!isClosed() && performance.now() - since < KEEPALIVE_LIMIT_MS + 1500) {
    await feed();
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** An h2 session that has made one request (200) and read its answer; `closed`: when it closed. */
async function h2AfterOneRequest(): Promise<{ session: http2.ClientHttp2Session; closed: Promise<number> }> {
  const session = http2.connect(`https://127.0.0.1:${f.t.sluice.ports.https}`, { ca: readFileSync(f.t.caCert), servername: 'origin.test' });
  session.on('error', () => {});
  const closed = new Promise<number>((resolve) => session.once('close', () => resolve(performance.now())));
  const status = await new Promise<number>((resolve, reject) => {
    const stream = session.request({ ':path': '/', ':authority': 'origin.test' });
    stream.on('response', (h) => resolve(Number(h[':status'])));
    stream.on('error', reject);
    stream.resume();
  });
  expect(status).toBe(200);
  return { session, closed };
}

/** Reports when an idle h2 session closed (ms after its answer; undefined: still open) and holds it to the limit. */
function expectH2SessionClosed(tag: string, subject: string, ms: number | undefined, stillOpen: string): void {
  console.log(`[keep-alive ${tag}] ${subject} closed after ${ms === undefined ? 'never (still open)' : `${Math.round(ms)} ms`}; limit ${KEEPALIVE_TIMEOUT_MS} ms`);
  expect(ms, stillOpen).toBeDefined();
  expect(ms).toBeLessThanOrEqual(KEEPALIVE_LIMIT_MS);
}

describe.skipIf(skip)('idle keep-alive closes after keepalive_timeout_ms', () => {
  for (const listener of LISTENERS) {
    it(`closes an idle HTTP/1.1 ${listener} connection after its response`, async () => {
      const conn = await connect(listener);
      try {
        await conn.write(head('GET / HTTP/1.1', 'Host: origin.test'));
        const res = await conn.response();
        expect(res.status, res.body.toString()).toBe(200);
        const answeredAt = performance.now();
        const ms = await conn.waitClosed(HEADERS_TIMEOUT_MS, answeredAt);
        console.log(`[keep-alive ${listener}] idle connection closed after ${ms === undefined ? 'never (still open)' : `${Math.round(ms)} ms`}; limit ${KEEPALIVE_TIMEOUT_MS} ms (+ Node's ${NODE_KEEPALIVE_BUFFER_MS} ms buffer)`);
        // Within the limit plus Node's buffer, and before the longer headers timeout could
        // be the one that closed it.
        expect(ms, 'idle connection still open').toBeDefined();
        expect(ms).toBeGreaterThanOrEqual(KEEPALIVE_TIMEOUT_MS * 0.8);
        expect(ms).toBeLessThanOrEqual(KEEPALIVE_LIMIT_MS);
      } finally {
        conn.destroy();
      }
    });
  }

  // The cheapest way around an activity-based idle timer: bytes that start nothing. Node skips
  // blank lines before a request line without starting its headers timeout, and each one
  // resets the socket's idle timer, so a keep-alive connection fed "\r\n" every 200 ms stayed
  // open for good (an attacker's review, issue 14).
  for (const listener of LISTENERS) {
    it(`closes an idle HTTP/1.1 ${listener} connection that sends blank lines and never a request`, async () => {
      const conn = await connect(listener);
      try {
        await conn.write(head('GET / HTTP/1.1', 'Host: origin.test'));
        const res = await conn.response();
        expect(res.status, res.body.toString()).toBe(200);
        const answeredAt = performance.now();
        await feedWhileOpen(() => conn.closed, () => conn.write('\r\n').catch(() => undefined), answeredAt);
        const ms = await conn.waitClosed(0, answeredAt);
        console.log(`[keep-alive ${listener}, CRLF every 200 ms] closed after ${ms === undefined ? 'never (still open)' : `${Math.round(ms)} ms`}; limit ${KEEPALIVE_TIMEOUT_MS} ms (+ ${NODE_KEEPALIVE_BUFFER_MS} ms)`);
        expect(ms, 'a connection fed blank lines is still open').toBeDefined();
        expect(ms).toBeLessThanOrEqual(KEEPALIVE_LIMIT_MS);
      } finally {
        conn.destroy();
      }
    });
  }

  // The deadline starts when the last response in flight closes: with pipelined requests the
  // tracking holds several at once (runtime/connection-drain.ts), and one left counted as in
  // flight would keep the connection open for good.
  for (const listener of LISTENERS) {
    it(`closes an HTTP/1.1 ${listener} connection after three pipelined requests, then blank lines`, async () => {
      const conn = await connect(listener);
      try {
        const one = head('GET / HTTP/1.1', 'Host: origin.test');
        await conn.write(one + one + one);
        for (let i = 0; i < 3; i++) {
          const res = await conn.response();
          expect(res.status, res.body.toString()).toBe(200);
        }
        const answeredAt = performance.now();
        await feedWhileOpen(() => conn.closed, () => conn.write('\r\n').catch(() => undefined), answeredAt);
        const ms = await conn.waitClosed(0, answeredAt);
        console.log(`[keep-alive ${listener}, 3 pipelined, then CRLF every 200 ms] closed after ${ms === undefined ? 'never (still open)' : `${Math.round(ms)} ms`}`);
        expect(ms, 'a connection that pipelined is still open').toBeDefined();
        expect(ms).toBeLessThanOrEqual(KEEPALIVE_LIMIT_MS);
      } finally {
        conn.destroy();
      }
    });
  }

  it('closes an idle h2 connection that sends PINGs and opens no stream', async () => {
    const { session, closed } = await h2AfterOneRequest();
    try {
      const answeredAt = performance.now();
      let at: number | undefined;
      void closed.then((t) => {
        at = t;
      });
      await feedWhileOpen(() => at !== undefined, () => {
        if (!session.closed && !session.destroyed) session.ping(() => {});
      }, answeredAt);
      expectH2SessionClosed('h2, PING every 200 ms', 'session', at === undefined ? undefined : at - answeredAt, 'an h2 session kept busy with PINGs is still open');
    } finally {
      session.destroy();
    }
  });

  it('closes an idle h2 connection after its stream ends', async () => {
    const { session, closed } = await h2AfterOneRequest();
    try {
      const answeredAt = performance.now();
      const at = await Promise.race([closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), HEADERS_TIMEOUT_MS))]);
      expectH2SessionClosed('h2', 'idle session', at === undefined ? undefined : at - answeredAt, `idle h2 session still open ${HEADERS_TIMEOUT_MS} ms after its last stream`);
    } finally {
      session.destroy();
    }
  });
});

// A request body must keep arriving (src/upstream/request-body.ts): one that never comes held
// its upstream connection, its place in undici's per-origin pool and, over h2, a 1 MiB window
// reservation for as long as the upstream waited (an attacker's review: 256 of them made every
// other request to the host queue).
describe.skipIf(skip)('a request body that stops arriving', () => {
  for (const listener of LISTENERS) {
    it(`is answered 408 after headers_timeout_ms (${listener})`, async () => {
      const conn = await connect(listener, 'echo.test');
      const path = `/sha256?bodyless-${listener}`;
      try {
        const started = performance.now();
        await conn.write(head(`POST ${path} HTTP/1.1`, 'Host: echo.test', 'Content-Length: 1000'));
        const res = await conn.response();
        const ms = performance.now() - started;
        expect(res.status, res.body.toString()).toBe(408);
        expect(ms).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS * 0.9);
        expect(ms).toBeLessThanOrEqual(HEADERS_TIMEOUT_MS * 2 + 500);
        const line = await f.t.waitForLog((l) => l.path === path);
        expect(line.reason, JSON.stringify(line)).toBe('client_timeout');
      } finally {
        conn.destroy();
      }
    });
  }

  it('is answered 408 over h2 too', async () => {
    const session = http2.connect(`https://127.0.0.1:${f.t.sluice.ports.https}`, { ca: readFileSync(f.t.caCert), servername: 'echo.test' });
    try {
      session.on('error', () => {});
      const started = performance.now();
      const status = await new Promise<number>((resolve, reject) => {
        const stream = session.request({ ':method': 'POST', ':path': '/sha256?bodyless-h2', ':authority': 'echo.test', 'content-length': '1000' }, { endStream: false });
        stream.on('response', (h) => resolve(Number(h[':status'])));
        stream.on('error', reject);
        stream.resume();
      });
      expect(status).toBe(408);
      expect(performance.now() - started).toBeLessThanOrEqual(HEADERS_TIMEOUT_MS * 2 + 500);
    } finally {
      session.destroy();
    }
  });

  it('is not cut while it keeps coming, even slowly (1.5 KiB a second)', async () => {
    const conn = await connect('tls', 'echo.test');
    try {
      const body = Buffer.alloc(6 * 1536, 0x62);
      await conn.write(head('POST /sha256?slow-but-steady HTTP/1.1', 'Host: echo.test', `Content-Length: ${body.length}`));
      for (let i = 0; i < body.length; i += 1536) {
        await conn.write(body.subarray(i, i + 1536));
        await new Promise((r) => setTimeout(r, 1000));
      }
      const res = await conn.response();
      expect(res.status, res.body.toString()).toBe(200);
      expect(res.body.toString()).toContain(createHash('sha256').update(body).digest('hex'));
    } finally {
      conn.destroy();
    }
  });
});

// The access log tells who ended an exchange: an agent that leaves in the middle of its upload
// is client_aborted, never an upstream failure (an attacker's review saw `status 502, reason
// upstream_error, outcome complete` for it).
describe.skipIf(skip)('a client that leaves mid-upload', () => {
  for (const listener of LISTENERS) {
    it(`is logged as client_aborted, not as an upstream error (${listener})`, async () => {
      const conn = await connect(listener === 'tls' ? 'tls' : 'http', 'echo.test');
      const path = `/sha256?leaves-mid-upload-${listener}`;
      await conn.write(head(`PUT ${path} HTTP/1.1`, 'Host: echo.test', 'Content-Length: 1048576'));
      await conn.write(Buffer.alloc(64 * 1024, 0x61));
      await new Promise((r) => setTimeout(r, 200));
      conn.destroy();
      const line = await f.t.waitForLog((l) => l.path === path);
      expect(line.outcome, JSON.stringify(line)).toBe('client_aborted');
      expect(line.reason, JSON.stringify(line)).toBeUndefined();
      expect(line.status, JSON.stringify(line)).not.toBe(502);
    });
  }
});

describe.skipIf(skip)('header size and count are capped with 431', () => {
  for (const listener of LISTENERS) {
    it(`answers 431 to headers larger than max_header_bytes (${listener}) and logs it`, async () => {
      const conn = await connect(listener);
      try {
        await conn.write(head('GET /too-big HTTP/1.1', 'Host: origin.test', `X-Big: ${'b'.repeat(MAX_HEADER_BYTES + 100)}`));
        const res = await conn.response();
        expect(res.status).toBe(431);
        const port = conn.socket.localPort;
        const line = await f.t.waitForLog((l) => l.status === 431 && (l.src_port === port || l.path === '/too-big'));
        expect(line).toMatchObject({ decision: 'deny', listener });
      } finally {
        conn.destroy();
      }
    });

    it(`accepts exactly max_header_count header lines and answers 431 to one more (${listener})`, async () => {
      const fields = (n: number): string[] => ['Host: origin.test', ...Array.from({ length: n - 1 }, (_, i) => `X-F${i}: ${i}`)];
      const ok = await connect(listener);
      try {
        await ok.write(head('GET / HTTP/1.1', ...fields(MAX_HEADER_COUNT)));
        const res = await ok.response();
        expect(res.status, res.body.toString()).toBe(200);
      } finally {
        ok.destroy();
      }
      const over = await connect(listener);
      try {
        await over.write(head('GET /too-many HTTP/1.1', ...fields(MAX_HEADER_COUNT + 1)));
        const res = await over.response();
        expect(res.status).toBe(431);
        const line = await f.t.waitForLog((l) => l.status === 431 && l.path === '/too-many' && l.listener === listener);
        expect(line).toMatchObject({ decision: 'deny', reason: 'headers_too_large' });
      } finally {
        over.destroy();
      }
    });
  }

  it('answers 431 to an h2 request whose headers exceed max_header_bytes (curl --http2)', async () => {
    // The echo origin (Node, 16 KiB header limit) would accept it: only sluice can say 431.
    const r = await curl('echo.test', '/headers', { ...f.opts(), args: ['--http2', '-H', `X-Big: ${'b'.repeat(MAX_HEADER_BYTES + 100)}`] });
    expect(r.status, `sluice forwarded it; the origin saw: ${r.body.slice(0, 120)}`).toBe(431);
  });

  it('answers 400 to an h2 request method longer than 64 characters and logs 64 of them (curl --http2)', async () => {
    // HTTP/1's parser knows its methods; h2 carries any token. The echo origin would take it.
    const method = 'M'.repeat(5000);
    const r = await curl('echo.test', '/long-method', { ...f.opts(), args: ['--http2', '-X', method] });
    expect(r.status, `sluice forwarded it; the origin saw: ${r.body.slice(0, 120)}`).toBe(400);
    const line = await f.t.waitForLog((l) => l.path === '/long-method');
    expect(line).toMatchObject({ decision: 'deny', reason: 'bad_request', status: 400, method: `${'M'.repeat(64)}…(5000 chars)` });
  });

  it('answers 431 to an h2 request with more than max_header_count fields (curl --http2)', async () => {
    const args = ['--http2'];
    for (let i = 0; i < MAX_HEADER_COUNT + 5; i++) args.push('-H', `X-F${i}: ${i}`);
    const r = await curl('origin.test', '/h2-too-many', { ...f.opts(), args });
    expect(r.status).toBe(431);
  });
});

describe.skipIf(skip)('half-close after the request does not drop the response', () => {
  // The echo origin answers 1 MiB after 300 ms, so the FIN is in long before the response.
  const BYTES = 1024 * 1024;
  for (const listener of LISTENERS) {
    it(`delivers the whole response after shutdown(SHUT_WR) on a ${listener} socket`, async () => {
      const conn = await connect(listener, 'echo.test');
      try {
        await conn.write(head(`GET /slow?ms=300&bytes=${BYTES} HTTP/1.1`, 'Host: echo.test'));
        conn.end();
        const res = await conn.response(10_000);
        expect(res.status).toBe(200);
        expect(res.body.length).toBe(BYTES);
        expect(res.body.equals(Buffer.alloc(BYTES, 'x'))).toBe(true);
      } finally {
        conn.destroy();
      }
    });
  }
});
