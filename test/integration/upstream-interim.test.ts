// DESIGN.md §1: no response headers within [upstream] headers_timeout_ms → 504. undici restarts
// its headers timeout at every interim (1xx) response, so an upstream the agent controls that
// sends `102 Processing` every half second held the exchange (and its upstream connection)
// with no answer at all (an attacker's review). From the first interim response on, sluice
// gives the final one headers_timeout_ms. A header dripped byte by byte is the control: undici's
// own timeout already ends that one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { startEdgeFixture, type EdgeFixture } from '../helpers/edge-fixture.ts';
import { openTcp, head } from '../helpers/raw-http.ts';
import { skipUnlessTools } from '../helpers/tools.ts';

const skip = skipUnlessTools('upstream-interim', ['openssl', 'nginx', 'dnsmasq']);
const HEADERS_TIMEOUT_MS = 2000;
let f: EdgeFixture;
let origin: net.Server;
const originSockets = new Set<net.Socket>();

beforeAll(async () => {
  if (skip) return;
  f = await startEdgeFixture({ upstream: { headers_timeout_ms: HEADERS_TIMEOUT_MS }, records: { 'up.test': ['127.0.0.5'] } });
  // A raw origin: /1xx sends `102 Processing` every 500 ms, /trickle a header one byte at a time.
  origin = net.createServer((s) => {
    originSockets.add(s);
    s.on('close', () => originSockets.delete(s));
    s.on('error', () => {});
    s.once('data', (d: Buffer) => {
      const path = d.toString('latin1').split(' ')[1];
      let n = 0;
      const timer = setInterval(() => {
        if (s.destroyed || n++ > 40) {
          clearInterval(timer);
          return;
        }
        if (path === '/1xx') s.write('HTTP/1.1 102 Processing\r\n\r\n');
        else s.write(n === 1 ? 'HTTP/1.1 200 OK\r\nX-A: ' : 'a');
      }, path === '/1xx' ? 500 : 200);
      s.on('close', () => clearInterval(timer));
    });
  });
  await new Promise<void>((resolve) => origin.listen(f.origin.httpPort, '127.0.0.5', resolve));
});

afterAll(async () => {
  for (const s of originSockets) s.destroy();
  if (origin !== undefined) await new Promise((resolve) => origin.close(resolve));
  await f?.stop();
});

describe.skipIf(skip)('an upstream that keeps the headers timeout fed', () => {
  for (const path of ['/1xx', '/trickle']) {
    it(`gets 504 upstream_timeout within twice the headers timeout (${path})`, async () => {
      const conn = await openTcp(f.t.sluice.ports.http);
      try {
        const started = performance.now();
        await conn.write(head(`GET ${path} HTTP/1.1`, 'Host: up.test'));
        const res = await conn.response(3 * HEADERS_TIMEOUT_MS + 2000);
        const ms = performance.now() - started;
        console.log(`[upstream ${path}] status ${res.status} after ${Math.round(ms)} ms; headers_timeout_ms ${HEADERS_TIMEOUT_MS}`);
        expect(res.status).toBe(504);
        expect(ms).toBeLessThanOrEqual(2 * HEADERS_TIMEOUT_MS + 1000);
        const line = await f.t.waitForLog((l) => l.path === path && l.host === 'up.test');
        expect(line.reason).toBe('upstream_timeout');
      } finally {
        conn.destroy();
      }
    }, 15_000);
  }
});
