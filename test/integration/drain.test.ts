// DESIGN.md §3 "SIGTERM drains": close() stops accepting at once, lets requests already under
// way finish (bounded by [proxy] drain_seconds), and only then closes their connections.
// Each case gets its own sluice, since close() ends it.
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { startEdgeFixture, type EdgeFixture } from '../helpers/edge-fixture.ts';
import { waitFor } from '../helpers/process.ts';
import { curl } from '../helpers/clients.ts';

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

const CASES: { name: string; args: string[]; plain?: boolean }[] = [
  { name: 'HTTP/1.1 over TLS', args: ['--http1.1'] },
  { name: 'h2', args: ['--http2'] },
  { name: 'plain HTTP', args: [], plain: true },
];

describe('close() drains in-flight requests and refuses new connections', () => {
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
