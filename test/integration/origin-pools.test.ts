// sluice's per-origin upstream pools (src/upstream/origin-pools.ts) against a real HTTP server
// on loopback: warm connections are reused across rounds of concurrent calls, an idle pool is
// let go, and nothing a retired pool does later reaches the pool that replaced it (undici's
// Agent got that wrong and closed pools with warm connections and requests in flight).
import http from 'node:http';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errors, request, Pool } from 'undici';
import { createOriginPools, RECHECK_MS, type OriginPools, type PoolFactory } from '../../src/upstream/origin-pools.ts';
import { createTestPki } from '../helpers/pki.ts';

let server: http.Server;
let origin: string;
let connections = 0;
const sockets = new Set<Socket>();
/** Responses held until the test releases them (path /hold). */
const held: http.ServerResponse[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/hold') {
      held.push(res);
      return;
    }
    setTimeout(() => res.end('ok'), 20);
  });
  server.on('connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
});

async function get(pools: OriginPools, path = '/'): Promise<number> {
  const res = await request(`${origin}${path}`, { dispatcher: pools as never });
  await res.body.text();
  return res.statusCode;
}

/**
 * The gap between a response and the next request that a network puts in. undici frees a
 * connection for the next request in a setImmediate after a response ends (pipelining 1): a
 * request sent in the same turn (a promise chain, as here; never a request that arrived over
 * a socket) finds it still busy and gets a new one.
 */
const networkGap = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** undici's Pool, each one kept for the test to look at. */
function recordingFactory(): { made: Pool[]; factory: PoolFactory } {
  const made: Pool[] = [];
  const factory: PoolFactory = (o, options) => {
    const p = new Pool(o, options);
    made.push(p);
    return p;
  };
  return { made, factory };
}

/** Closes every connection the server holds, from its side (an origin's idle timeout). */
async function dropConnections(): Promise<void> {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => setTimeout(resolve, 50));
}

describe('per-origin upstream pools', () => {
  it('reuse their warm connections across rounds of concurrent calls', async () => {
    const pools = createOriginPools({ connections: 256, pipelining: 1, keepAliveTimeout: 30_000 });
    const before = connections;
    for (let round = 0; round < 3; round++) {
      const statuses = await Promise.all(Array.from({ length: 40 }, () => get(pools)));
      expect(statuses.every((s) => s === 200)).toBe(true);
      await networkGap();
    }
    expect(connections - before).toBe(40);
    expect(pools.size).toBe(1);
    await pools.close();
  });

  it('let an idle pool go once its last connection closes, and make a new one when asked', async () => {
    const pools = createOriginPools({ connections: 8, pipelining: 1 });
    expect(await get(pools)).toBe(200);
    expect(pools.size).toBe(1);
    await dropConnections();
    expect(pools.size).toBe(0);
    expect(await get(pools)).toBe(200);
    expect(pools.size).toBe(1);
    await pools.close();
  });

  it('keep a pool while one of its connections closes and another carries a request', async () => {
    const { made, factory } = recordingFactory();
    const pools = createOriginPools({ connections: 8, pipelining: 1 }, factory);
    const first = get(pools, '/hold');
    await new Promise((resolve) => setTimeout(resolve, 50));
    // A second connection that then closes: the pool loses one of two.
    expect(await get(pools)).toBe(200);
    const idle = [...sockets].find((s) => !held.some((r) => r.socket === s));
    idle?.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pools.size).toBe(1);
    (held.shift() as http.ServerResponse).end('late');
    expect(await first).toBe(200);
    expect(made).toHaveLength(1);
    expect(made[0]?.closed).toBe(false);
    await pools.close();
  });

  it("ignore what a retired pool reports later: its successor keeps its connections and requests", async () => {
    const { made, factory } = recordingFactory();
    const pools = createOriginPools({ connections: 8, pipelining: 1 }, factory);
    expect(await get(pools)).toBe(200);
    await dropConnections(); // the first pool is retired
    expect(pools.size).toBe(0);
    const before = connections;
    const inFlight = get(pools, '/hold'); // its successor, with a request running
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(made).toHaveLength(2);
    const [retired, current] = made as [Pool, Pool];
    // Late news from the retired pool: a connection it counted before it was let go closes
    // now, and one it was still opening fails.
    const late = new errors.SocketError('late');
    retired.emit('disconnect', new URL(origin), [retired], late);
    retired.emit('connectionError', new URL(origin), [retired], late);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(current.closed).toBe(false);
    expect(pools.size).toBe(1);
    (held.shift() as http.ServerResponse).end('done');
    expect(await inFlight).toBe(200);
    await networkGap();
    // The successor's warm connection serves the next calls: no new connection.
    expect(await get(pools)).toBe(200);
    await networkGap();
    expect(await get(pools)).toBe(200);
    expect(connections - before).toBe(1);
    await pools.close();
  });

  it('let go of a pool that never connected, once its requests have failed (no pool per dead host kept)', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const dead = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const pools = createOriginPools({ connections: 8, pipelining: 1 });
    const outcomes = await Promise.allSettled(Array.from({ length: 3 }, () => request(dead, { dispatcher: pools as never })));
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    await new Promise((resolve) => setTimeout(resolve, RECHECK_MS + 300));
    expect(pools.size).toBe(0);
    await pools.close();
  });

  it('keep a pool while one of two idle connections closes', async () => {
    const pools = createOriginPools({ connections: 8, pipelining: 1 });
    const before = connections;
    expect((await Promise.all([get(pools), get(pools)])).every((s) => s === 200)).toBe(true);
    expect(connections - before).toBe(2);
    [...sockets].at(-1)?.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pools.size).toBe(1);
    await pools.close();
  });

  it('keep one look pending per pool while an upstream keeps failing with requests queued, and the pool until they are done', async () => {
    // Accepts each connection and resets it 20 ms later: every request on it fails, and each
    // failure finds requests still queued behind it.
    const resetting = net.createServer((s) => {
      s.on('error', () => {});
      setTimeout(() => s.destroy(), 20);
    });
    await new Promise<void>((resolve) => resetting.listen(0, '127.0.0.1', resolve));
    const flaky = `http://127.0.0.1:${(resetting.address() as AddressInfo).port}`;
    // One connection at a time: each reset leaves the pool with none and requests queued.
    const pools = createOriginPools({ connections: 1, pipelining: 1 });
    let outstanding = 60;
    const all = Promise.allSettled(Array.from({ length: 60 }, () => request(flaky, { dispatcher: pools as never }).finally(() => outstanding--)));
    let mostRechecking = 0;
    let retiredEarly = false;
    const sampler = setInterval(() => {
      mostRechecking = Math.max(mostRechecking, pools.rechecking);
      if (outstanding > 0 && pools.size === 0) retiredEarly = true;
    }, 2);
    const outcomes = await all;
    clearInterval(sampler);
    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
    expect(mostRechecking).toBeLessThanOrEqual(1);
    expect(retiredEarly).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, RECHECK_MS + 300));
    expect(pools.size).toBe(0);
    expect(pools.rechecking).toBe(0);
    await pools.close();
    await new Promise((resolve) => resetting.close(resolve));
  });

  it('refuse requests once closed, as undici does, without reaching the origin', async () => {
    const pools = createOriginPools({ connections: 8, pipelining: 1 });
    expect(await get(pools)).toBe(200);
    await pools.close();
    const before = connections;
    await expect(get(pools)).rejects.toMatchObject({ code: 'UND_ERR_CLOSED' });
    expect(connections).toBe(before);
    expect(pools.size).toBe(0);
  });
});

describe('per-origin HTTP/2 pools (gRPC)', () => {
  // undici's h2 client never closes an idle session (it pings to keep it): sluice closes the pool.
  const IDLE_MS = 150;
  let h2server: http2.Http2SecureServer;
  let h2origin: string;
  let ca: Buffer;
  let sessions = 0;
  let openSessions = 0;

  beforeAll(async () => {
    const pki = await createTestPki();
    const leaf = await pki.issue(['localhost']);
    ca = readFileSync(pki.caCert);
    h2server = http2.createSecureServer({ cert: readFileSync(leaf.cert), key: readFileSync(leaf.key) }, (req, res) => {
      const ms = Number(new URL(req.url, 'https://x').searchParams.get('ms') ?? '0');
      setTimeout(() => res.end('ok'), ms);
    });
    h2server.on('session', (session) => {
      sessions++;
      openSessions++;
      session.once('close', () => openSessions--);
    });
    await new Promise<void>((resolve) => h2server.listen(0, '127.0.0.1', resolve));
    h2origin = `https://127.0.0.1:${(h2server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => h2server.close(resolve));
  });

  const h2pools = (): OriginPools => createOriginPools({ allowH2: true, keepAliveTimeout: IDLE_MS, connect: { ca, servername: 'localhost' } as never });

  async function h2get(pools: OriginPools, path = '/'): Promise<number> {
    const res = await request(`${h2origin}${path}`, { dispatcher: pools as never });
    await res.body.text();
    return res.statusCode;
  }

  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  it('close a pool unused for a while, ending its session, and make a new one when asked', async () => {
    const pools = h2pools();
    const before = sessions;
    expect(await h2get(pools)).toBe(200);
    expect(pools.size).toBe(1);
    expect(openSessions).toBe(1);
    await sleep(IDLE_MS * 3 + 100);
    expect(pools.size).toBe(0);
    expect(openSessions).toBe(0);
    expect(await h2get(pools)).toBe(200);
    expect(sessions - before).toBe(2);
    await pools.close();
  });

  it('keep a pool that is used, on one session', async () => {
    const pools = h2pools();
    const before = sessions;
    for (let i = 0; i < 10; i++) {
      expect(await h2get(pools)).toBe(200);
      await sleep(IDLE_MS / 2);
    }
    expect(sessions - before).toBe(1);
    expect(pools.size).toBe(1);
    await pools.close();
  });

  it('keep a pool while a long call runs on it, however long', async () => {
    const pools = h2pools();
    const before = sessions;
    expect(await h2get(pools, `/?ms=${IDLE_MS * 5}`)).toBe(200);
    expect(pools.size).toBe(1);
    expect(await h2get(pools)).toBe(200);
    expect(sessions - before).toBe(1);
    await pools.close();
  });
});
