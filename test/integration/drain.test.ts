// DESIGN.md §3 "SIGTERM drains": close() stops accepting at once, lets requests already under
// way finish (bounded by [proxy] drain_seconds), and only then closes their connections.
// Each case gets its own sluice, since close() ends it.
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { startEdgeFixture, type EdgeFixture } from '../helpers/edge-fixture.ts';
import { waitFor } from '../helpers/process.ts';
import { curl } from '../helpers/clients.ts';
import { startBusyWorld, type BusyWorld } from '../helpers/busy-day.ts';
import { skipUnlessTools } from '../helpers/tools.ts';

const skip = skipUnlessTools('drain', ['openssl', 'nginx', 'dnsmasq', 'curl']);

let f: EdgeFixture | undefined;

afterEach(async () => {
  await f?.stop();
  f = undefined;
});

function connectError(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(undefined);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code));
  });
}

/**
 * A plain TCP client that keeps what it receives (latin1) and says when the server closed. A
 * cut may arrive as a reset (sluice closing a connection whose pipelined requests it has not
 * read): the error is kept, and 'close' follows it.
 */
async function rawClient(port: number): Promise<{ socket: net.Socket; received: () => string; error: () => Error | undefined; closed: (ms: number) => Promise<void> }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  let received = '';
  let error: Error | undefined;
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => {
    received += d;
  });
  socket.on('error', (err) => {
    error = err;
  });
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, received: () => received, error: () => error, closed: (ms) => Promise.race([ended, new Promise<void>((resolve) => setTimeout(resolve, ms))]) };
}

/** Calls close() and waits for the client's connection to end, then: what it received and each response head (lower case). */
async function closeAndRead(fx: EdgeFixture, c: Awaited<ReturnType<typeof rawClient>>): Promise<{ received: string; heads: string[] }> {
  const closing = fx.t.sluice.close();
  await c.closed(10_000);
  await closing;
  const received = c.received();
  return { received, heads: [...received.matchAll(/HTTP\/1\.1 [^]*?\r\n\r\n/g)].map((m) => m[0].toLowerCase()) };
}

const CASES: { name: string; args: string[]; plain?: boolean }[] = [
  { name: 'HTTP/1.1 over TLS', args: ['--http1.1'] },
  { name: 'h2', args: ['--http2'] },
  { name: 'plain HTTP', args: [], plain: true },
];

describe.skipIf(skip)('close() drains in-flight requests and refuses new connections', () => {
  for (const c of CASES) {
    it(`a request in flight when close() is called completes with 200 (${c.name}); a new connection is refused`, async () => {
      f = await startEdgeFixture();
      const fx = f;
      const opts = c.plain ? { ...fx.opts(), scheme: 'http' as const, port: fx.t.sluice.ports.http } : fx.opts();
      const before = fx.echo.hits('/slow');
      const request = curl('echo.test', '/slow?ms=1000', { ...opts, args: c.args });
      await waitFor(() => fx.echo.hits('/slow') > before, 5_000, 'the request to reach the origin');
      const closeCalledAt = performance.now();
      const closing = fx.t.sluice.close();
      void request.then(() => console.log(`[drain ${c.name}] client finished ${Math.round(performance.now() - closeCalledAt)} ms after close()`));
      // Listeners stop at once: a new connection is refused while the old request drains.
      expect(await connectError(fx.t.sluice.ports.https)).toBe('ECONNREFUSED');
      expect(await connectError(fx.t.sluice.ports.http)).toBe('ECONNREFUSED');
      const r = await request;
      expect(r.stderr, `curl saw the response cut; it received ${JSON.stringify(r.stdout)}`).toBe('');
      expect(r.status).toBe(200);
      expect(r.body).toBe('slow ok after 1000 ms\n');
      await closing;
    });
  }

  it('two pipelined requests in flight when close() is called both get their answer, the last with Connection: close', async () => {
    // The second response waits behind the first (HTTP/1.1 answers in order): the connection
    // must stay open until both are written, and then close.
    f = await startEdgeFixture();
    const fx = f;
    const before = fx.echo.hits('/slow');
    const c = await rawClient(fx.t.sluice.ports.http);
    c.socket.write('GET /slow?ms=800 HTTP/1.1\r\nHost: echo.test\r\n\r\nGET /slow?ms=300 HTTP/1.1\r\nHost: echo.test\r\n\r\n');
    await waitFor(() => fx.echo.hits('/slow') >= before + 2, 5_000, 'both requests to reach the origin');
    const { received, heads } = await closeAndRead(fx, c);
    expect(heads.map((h) => h.split('\r\n')[0]), received).toEqual(['http/1.1 200 ok', 'http/1.1 200 ok']);
    expect(received).toContain('slow ok after 800 ms\n');
    expect(received.endsWith('slow ok after 300 ms\n'), received).toBe(true);
    // Only the last answer says close: one on the first would have closed the connection
    // under the second request, already sent upstream, and dropped its answer.
    expect(heads[0]).toContain('connection: keep-alive');
    expect(heads[1]).toContain('connection: close');
    expect(c.socket.destroyed).toBe(true);
  });

  it('a request pipelined behind a slow one after a fast one was answered still gets its answer on close(), and only it says close', async () => {
    // A (fast) and B (slow) pipelined; A answered; then C behind B. The answers go A, B, C:
    // Connection: close on B would drop C's, already sent upstream (an attacker's review).
    f = await startEdgeFixture();
    const fx = f;
    const before = fx.echo.hits('/slow');
    const c = await rawClient(fx.t.sluice.ports.http);
    c.socket.write('GET /slow?ms=10 HTTP/1.1\r\nHost: echo.test\r\n\r\nGET /slow?ms=1500 HTTP/1.1\r\nHost: echo.test\r\n\r\n');
    await waitFor(() => c.received().includes('slow ok after 10 ms\n'), 5_000, 'the first answer');
    c.socket.write('GET /slow?ms=300 HTTP/1.1\r\nHost: echo.test\r\n\r\n');
    await waitFor(() => fx.echo.hits('/slow') >= before + 3, 5_000, 'the third request to reach the origin');
    const { received, heads } = await closeAndRead(fx, c);
    expect(heads.length, received).toBe(3);
    expect(received.endsWith('slow ok after 300 ms\n'), received).toBe(true);
    expect(heads[1]).toContain('connection: keep-alive');
    expect(heads[2]).toContain('connection: close');
  });

  it('a client that keeps pipelining through the drain is still cut when drain_seconds is up', async () => {
    // Each new pipelined request becomes the connection's last response (the one that will say
    // close), so the connection never goes idle by itself: the drain's own deadline must end it.
    f = await startEdgeFixture({ proxy: { drain_seconds: 2 } });
    const fx = f;
    const before = fx.echo.hits('/slow');
    const c = await rawClient(fx.t.sluice.ports.http);
    const one = (ms: number): string => `GET /slow?ms=${ms} HTTP/1.1\r\nHost: echo.test\r\n\r\n`;
    c.socket.write(one(1500));
    await waitFor(() => fx.echo.hits('/slow') > before, 5_000, 'the first request to reach the origin');
    const closeCalledAt = performance.now();
    const closing = fx.t.sluice.close();
    const feeding = setInterval(() => {
      if (!c.socket.destroyed) c.socket.write(one(300));
    }, 100);
    try {
      await c.closed(8_000);
    } finally {
      clearInterval(feeding);
    }
    const closedAfter = performance.now() - closeCalledAt;
    console.log(`[drain, pipelining throughout] connection closed ${Math.round(closedAfter)} ms after close() (drain_seconds = 2)${c.error() === undefined ? '' : `, by ${(c.error() as NodeJS.ErrnoException).code}`}`);
    // A reset is a cut too (requests were still arriving); anything else is not.
    expect([undefined, 'ECONNRESET', 'EPIPE']).toContain((c.error() as NodeJS.ErrnoException | undefined)?.code);
    expect(c.socket.destroyed, 'still open 8 s after close()').toBe(true);
    expect(closedAfter).toBeLessThan(3_500);
    // The request in flight when the drain began got its answer.
    expect(c.received()).toContain('slow ok after 1500 ms\n');
    await closing;
  });

  it('a large response to a slow reader, in flight when close() is called, arrives whole', async () => {
    // 40 MiB read at 16 MiB/s: more than the loopback socket buffers hold, so when the
    // upstream exchange ends part of the body still waits in sluice's own write queue; closing
    // sockets as soon as "in-flight" hits zero would cut it.
    f = await startEdgeFixture();
    const fx = f;
    const bytes = 40 * 1024 * 1024;
    const before = fx.echo.hits('/slow');
    const request = curl('echo.test', `/slow?ms=500&bytes=${bytes}`, { ...fx.opts(), args: ['--http1.1', '--limit-rate', '16M', '-o', '/dev/null', '-w', '%{size_download}'] });
    await waitFor(() => fx.echo.hits('/slow') > before, 5_000, 'the request to reach the origin');
    const closing = fx.t.sluice.close();
    const r = await request;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(Number(r.stdout)).toBe(bytes);
    await closing;
  });
});

// DESIGN.md §1 "SIGTERM ends with exit 0": `sluice run` as a process, after a busy day. What
// is idle when SIGTERM arrives (a connection still sending its headers, a TLS handshake never
// begun, idle keep-alive HTTP/1 and h2 connections, an idle WebSocket, requests whose client
// gave up on a hung upstream) is closed at once and never holds the drain open; what is in
// flight finishes within drain_seconds or is cut then; either way sluice exits 0 with its log
// written.
describe.skipIf(skip)('SIGTERM after a busy day (sluice run as a process)', () => {
  let world: BusyWorld | undefined;

  afterEach(async () => {
    await world?.stop();
    world = undefined;
  });

  it('closes idle connections at once, lets the one download finish, then exits 0 without waiting out the drain', async () => {
    world = await startBusyWorld(15);
    const w = world;
    const idle = await w.busyDay();
    const download = w.download('/download?ms=4000&bytes=4194304');
    await waitFor(() => w.origin.hits('/download') === 1, 5_000, 'the download to reach the origin');
    // Still there, though it has half-closed: its request is in flight and gets its answer.
    const halfClosed = await w.halfClosed('/late?ms=1500');

    const sigtermAt = performance.now();
    const exit = w.terminate(12_000);
    const closedAfter = await Promise.all(idle.map(async (c) => [c.name, await c.closedWithin(3_000, sigtermAt)] as const));
    console.log(`[busy day] closed after SIGTERM (ms): ${closedAfter.map(([n, ms]) => `${n}=${ms === undefined ? 'still open' : Math.round(ms)}`).join(', ')}`);
    for (const [name, ms] of closedAfter) expect.soft(ms ?? Infinity, `${name} must be closed at once on SIGTERM`).toBeLessThan(2_000);

    const late = await halfClosed.response;
    expect(late.status).toBe(200);
    expect(late.body.toString()).toBe('late\n');
    const got = await download;
    expect(got.error).toBeUndefined();
    expect(got.status).toBe(200);
    expect(got.bytes).toBe(4194304);
    const { code, at } = await exit;
    console.log(`[busy day] download done ${Math.round(got.endedAt - sigtermAt)} ms after SIGTERM; exit ${code} after ${Math.round(at - sigtermAt)} ms (drain_seconds = 15)`);
    expect(w.output()).not.toContain('drain did not finish');
    expect(code).toBe(0);
    // Nothing held the drain once the download was done.
    expect(at - got.endedAt).toBeLessThan(2_500);
    const lines = w.accessLog();
    expect(lines.find((l) => String(l.path).startsWith('/download'))).toMatchObject({ status: 200, outcome: 'complete' });
  }, 60_000);

  it('cuts requests still in flight when drain_seconds is up, and still exits 0 with its log written', async () => {
    world = await startBusyWorld(2);
    const w = world;
    const idle = await w.busyDay();
    const hung = [w.download('/hang'), w.download('/hang', 'h2')];
    await waitFor(() => w.origin.hits('/hang') >= 4, 5_000, 'the hung requests to reach the origin');

    const sigtermAt = performance.now();
    const exit = w.terminate(12_000);
    for (const c of idle) expect(await c.closedWithin(3_000, sigtermAt) ?? Infinity, `${c.name} must be closed at once`).toBeLessThan(2_000);
    const results = await Promise.all(hung);
    for (const r of results) {
      expect(r.status === undefined || r.error !== undefined, `a hung request got a complete answer: ${JSON.stringify(r)}`).toBe(true);
      expect(r.endedAt - sigtermAt).toBeGreaterThan(1_500);
    }
    const { code, at } = await exit;
    console.log(`[cut] exit ${code} after ${Math.round(at - sigtermAt)} ms (drain_seconds = 2)`);
    expect(w.output()).not.toContain('drain did not finish');
    expect(code).toBe(0);
    expect(at - sigtermAt).toBeLessThan(5_000);
    // Every hung request is in the log, the cut ones too: it was flushed before the exit.
    expect(w.accessLog().filter((l) => String(l.path).startsWith('/hang')).length).toBe(w.origin.hits('/hang'));
  }, 60_000);
});
