// DESIGN.md §1 "Limits and edge rules", upstream side: connect timeout → 504
// upstream_timeout (TCP that never completes, and TCP that completes but never finishes TLS);
// no response headers within [upstream] headers_timeout_ms → 504; refused → 502
// upstream_refused; a response cut mid-body reaches the client as a cut, never as a complete
// response. (TLS verification failure → 502 upstream_tls is in proxy-tls.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEdgeFixture, type EdgeFixture } from '../helpers/edge-fixture.ts';
import { startBlackhole, type Blackhole } from '../helpers/blackhole.ts';
import { startEchoOrigin, type EchoOrigin } from '../helpers/echo-origin.ts';
import { curl } from '../helpers/clients.ts';
import { skipUnlessTools } from '../helpers/tools.ts';

const skip = skipUnlessTools('upstream-failures', ['openssl', 'nginx', 'dnsmasq', 'curl', 'python3']);

const CONNECT_TIMEOUT_MS = 1000;
const HEADERS_TIMEOUT_MS = 1500;

let f: EdgeFixture;
let blackholes: Blackhole[] = [];
let liveOnIpv6: EchoOrigin | undefined;

beforeAll(async () => {
  f = await startEdgeFixture({
    upstream: { connect_timeout_ms: CONNECT_TIMEOUT_MS, headers_timeout_ms: HEADERS_TIMEOUT_MS },
    records: {
      'blackhole.test': ['127.0.0.5'],
      // sluice dials IPv4 first: the dead address is always tried first.
      'half-dead.test': ['127.0.0.5', '::1'],
      'all-dead.test': ['127.0.0.5', '127.0.0.6'],
    },
  });
  blackholes = [await startBlackhole('127.0.0.5', f.origin.httpsPort), await startBlackhole('127.0.0.6', f.origin.httpsPort)];
  liveOnIpv6 = await startEchoOrigin(await f.pki.issue(['half-dead.test']), '::1', { httpsPort: f.origin.httpsPort, httpPort: f.origin.httpPort });
});

afterAll(async () => {
  await liveOnIpv6?.stop();
  for (const b of blackholes) await b.stop();
  await f?.stop();
});

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await work();
  return { result, ms: performance.now() - started };
}

describe.skipIf(skip)('upstream timeouts answer 504 upstream_timeout', () => {
  it('when the TCP connect never completes (SYN dropped)', async () => {
    const { result: r, ms } = await timed(() => curl('blackhole.test', '/', { ...f.opts(), args: ['-D', '-'] }));
    console.log(`[connect timeout, SYN dropped] 504 after ${Math.round(ms)} ms; limit ${CONNECT_TIMEOUT_MS} ms`);
    expect(r.status, r.body).toBe(504);
    expect(r.body.toLowerCase()).toContain('x-sluice-reason: upstream_timeout');
    expect(ms).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS * 0.9);
    expect(ms).toBeLessThan(CONNECT_TIMEOUT_MS * 3);
    await f.t.waitForLog((l) => l.host === 'blackhole.test' && l.reason === 'upstream_timeout' && l.status === 504);
  });

  it('when TCP connects but the TLS handshake never completes', async () => {
    const before = f.silentAccepted();
    const { result: r, ms } = await timed(() => curl('silent.test', '/', { ...f.opts(), args: ['-D', '-'] }));
    console.log(`[connect timeout, TLS never answered] ${r.status} after ${Math.round(ms)} ms; limit ${CONNECT_TIMEOUT_MS} ms`);
    // The TCP connection was made: only the TLS handshake hung.
    expect(f.silentAccepted()).toBeGreaterThan(before);
    expect(r.status, r.body).toBe(504);
    expect(r.body.toLowerCase()).toContain('x-sluice-reason: upstream_timeout');
    expect(ms).toBeLessThan(CONNECT_TIMEOUT_MS * 3);
    await f.t.waitForLog((l) => l.host === 'silent.test' && l.reason === 'upstream_timeout' && l.status === 504);
  });

  it('when the upstream sends no response headers within headers_timeout_ms', async () => {
    const { result: r, ms } = await timed(() => curl('echo.test', '/hang', { ...f.opts(), args: ['-D', '-'] }));
    console.log(`[headers timeout] ${r.status} after ${Math.round(ms)} ms; limit ${HEADERS_TIMEOUT_MS} ms`);
    expect(f.echo.hits('/hang')).toBeGreaterThan(0);
    expect(r.status, r.body).toBe(504);
    expect(r.body.toLowerCase()).toContain('x-sluice-reason: upstream_timeout');
    expect(ms).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS * 0.9);
    expect(ms).toBeLessThan(HEADERS_TIMEOUT_MS * 3);
    await f.t.waitForLog((l) => l.host === 'echo.test' && l.path === '/hang' && l.reason === 'upstream_timeout');
  });

  it('lets a slow upstream answer that stays inside headers_timeout_ms', async () => {
    const r = await curl('echo.test', `/slow?ms=${Math.round(HEADERS_TIMEOUT_MS / 2)}`, f.opts());
    expect(r.status).toBe(200);
  });
});

describe.skipIf(skip)('a name with dead addresses: the next is tried after 250 ms, not after the connect timeout', () => {
  it('reaches the live address while the attempt at the dead one is still waiting', async () => {
    const { result: r, ms } = await timed(() => curl('half-dead.test', '/staggered', f.opts()));
    console.log(`[dead IPv4, live IPv6] ${r.status} after ${Math.round(ms)} ms; connect timeout ${CONNECT_TIMEOUT_MS} ms`);
    expect(r.status, r.body).toBe(200);
    expect(liveOnIpv6?.hits('/staggered')).toBe(1);
    // The dead address was tried first (≥ the 250 ms attempt delay), and its attempt did not
    // run into the connect timeout before the live one was tried.
    expect(ms).toBeGreaterThanOrEqual(240);
    expect(ms).toBeLessThan(CONNECT_TIMEOUT_MS * 0.8);
  });

  it('tries the address that connected first on the next new connections', async () => {
    // Three calls at once, each holding its upstream connection 300 ms: the pool opens new
    // connections, which go to the live address at once instead of waiting out the delay again.
    const SLOW_MS = 300;
    expect((await curl('half-dead.test', '/first', f.opts())).status).toBe(200);
    const runs = await Promise.all([0, 1, 2].map((i) => timed(() => curl('half-dead.test', `/slow?ms=${SLOW_MS}&i=${i}`, f.opts()))));
    console.log(`[dead IPv4, live IPv6, next connections] ${runs.map((r) => `${r.result.status} after ${Math.round(r.ms)} ms`).join(', ')}`);
    for (const r of runs) {
      expect(r.result.status, r.result.body).toBe(200);
      expect(r.ms).toBeLessThan(SLOW_MS + 200);
    }
    expect(liveOnIpv6?.hits('/slow')).toBe(3);
  });

  it('with every address dead, answers 504 after one connect timeout, not one per address', async () => {
    const { result: r, ms } = await timed(() => curl('all-dead.test', '/', { ...f.opts(), args: ['-D', '-'] }));
    console.log(`[two dead addresses] ${r.status} after ${Math.round(ms)} ms; connect timeout ${CONNECT_TIMEOUT_MS} ms`);
    expect(r.status, r.body).toBe(504);
    expect(r.body.toLowerCase()).toContain('x-sluice-reason: upstream_timeout');
    // Attempts one after the other would each run into the timeout: ≥ 2 × the timeout. Staggered,
    // the last attempt starts 250 ms in (undici's connect timer fires up to ~0.5 s late).
    expect(ms).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS * 0.9);
    expect(ms).toBeLessThan(CONNECT_TIMEOUT_MS * 2);
    await f.t.waitForLog((l) => l.host === 'all-dead.test' && l.reason === 'upstream_timeout' && l.status === 504);
  });
});

describe.skipIf(skip)('a refused upstream connection answers 502 upstream_refused', () => {
  it('when nothing listens at the resolved address', async () => {
    const r = await curl('down.test', '/', { ...f.opts(), args: ['-D', '-'] });
    expect(r.status).toBe(502);
    expect(r.body.toLowerCase()).toContain('x-sluice-reason: upstream_refused');
    await f.t.waitForLog((l) => l.host === 'down.test' && l.reason === 'upstream_refused' && l.status === 502);
  });
});

describe.skipIf(skip)('a response cut mid-body reaches the client as a cut, never as a complete response', () => {
  // curl: 18 = "transfer closed with outstanding read data remaining" (partial file),
  // 56 = failure receiving network data, 92 = HTTP/2 stream error.
  const CUT_EXITS = [18, 56, 92];
  const cases: { name: string; path: string; args: string[]; plain?: boolean }[] = [
    { name: 'Content-Length promised, fewer bytes sent, then reset (HTTP/1.1 over TLS)', path: '/cut-length', args: ['--http1.1'] },
    { name: 'chunked without the final chunk (HTTP/1.1 over TLS)', path: '/cut-chunked', args: ['--http1.1'] },
    { name: 'Content-Length promised, fewer bytes sent (h2)', path: '/cut-length', args: ['--http2'] },
    { name: 'chunked without the final chunk (h2)', path: '/cut-chunked', args: ['--http2'] },
    { name: 'Content-Length promised, fewer bytes sent (plain HTTP)', path: '/cut-length', args: [], plain: true },
    { name: 'chunked without the final chunk (plain HTTP)', path: '/cut-chunked', args: [], plain: true },
  ];
  for (const [i, c] of cases.entries()) {
    it(c.name, async () => {
      const path = `${c.path}?case=${i}`;
      const opts = c.plain ? { ...f.opts(), scheme: 'http' as const, port: f.t.sluice.ports.http } : f.opts();
      const r = await curl('echo.test', path, { ...opts, args: [...c.args, '-o', '/dev/null', '-w', '%{size_download} %{http_code}'] });
      console.log(`[cut ${c.path} ${c.args.join(' ') || 'plain'}] curl exit ${r.code}, received "${r.stdout.trim()}" bytes+status; ${r.stderr.trim()}`);
      expect(CUT_EXITS, `curl exited ${r.code}: ${r.stderr}`).toContain(r.code);
      expect(r.stdout.trim().startsWith('100000 ')).toBe(false);
      await f.t.waitForLog((l) => l.host === 'echo.test' && l.path === path && l.outcome === 'cut_off');
    });
  }
});
