// Staggered connection attempts (src/upstream/staggered-connect.ts) against real sockets on
// loopback: a listener, an address where nothing listens (refused at once), an address that
// drops SYNs (test/helpers/blackhole.ts), a TLS server whose certificate is not trusted and one
// that takes 400 ms to start its handshake.
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ATTEMPTS_IN_FLIGHT, connectStaggered, preferAddress, type Dial } from '../../src/upstream/staggered-connect.ts';
import type { ResolvedAddress } from '../../src/upstream/resolve.ts';
import { startBlackhole, type Blackhole } from '../helpers/blackhole.ts';
import { createTestPki } from '../helpers/pki.ts';
import { skipUnlessTools } from '../helpers/tools.ts';

const skip = skipUnlessTools('staggered-connect', ['python3', 'openssl']);

const LIVE = '127.0.0.1';
const REFUSED = '127.0.0.2';
const DEAD = '127.0.0.5';
const DEAD_TOO = '127.0.0.6';
const UNTRUSTED = '127.0.0.7';
const SLOW_TLS = '127.0.0.8';
const SLOW_TLS_MS = 400;

let port = 0;
const servers: net.Server[] = [];
const blackholes: Blackhole[] = [];
const accepted: net.Socket[] = [];
let testCa: Buffer;

beforeAll(async () => {
  if (skip) return;
  const pki = await createTestPki();
  const untrusted = await pki.issue(['untrusted.test']);
  const slow = await pki.issue(['slow.test']);
  testCa = readFileSync(pki.caCert);
  // One port for every address, as one name's addresses share the upstream port.
  const live = net.createServer((s) => accepted.push(s));
  await new Promise<void>((resolve) => live.listen(0, LIVE, resolve));
  port = (live.address() as net.AddressInfo).port;
  servers.push(live);
  const tlsServer = tls.createServer({ cert: readFileSync(untrusted.cert), key: readFileSync(untrusted.key) }, (s) => accepted.push(s));
  await new Promise<void>((resolve) => tlsServer.listen(port, UNTRUSTED, resolve));
  servers.push(tlsServer);
  // TCP accepted at once, the TLS handshake answered only after SLOW_TLS_MS (a far upstream).
  const slowContext = tls.createSecureContext({ cert: readFileSync(slow.cert), key: readFileSync(slow.key) });
  const slowServer = net.createServer((raw) => {
    accepted.push(raw);
    raw.pause();
    setTimeout(() => accepted.push(new tls.TLSSocket(raw, { isServer: true, secureContext: slowContext })), SLOW_TLS_MS);
  });
  await new Promise<void>((resolve) => slowServer.listen(port, SLOW_TLS, resolve));
  servers.push(slowServer);
  blackholes.push(await startBlackhole(DEAD, port), await startBlackhole(DEAD_TOO, port));
});

afterAll(async () => {
  for (const s of accepted) s.destroy();
  for (const s of servers) await new Promise((resolve) => s.close(resolve));
  for (const b of blackholes) await b.stop();
});

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });

/** A real dial: TCP, or TLS for UNTRUSTED (verified against the system roots) and SLOW_TLS; records each attempt. */
function recordingDial(): { dial: Dial; attempts: Array<{ address: string; socket: net.Socket }> } {
  const attempts: Array<{ address: string; socket: net.Socket }> = [];
  const dial: Dial = ({ address }, done) => {
    const secure = address === UNTRUSTED || address === SLOW_TLS;
    const socket = address === UNTRUSTED
      ? tls.connect({ host: address, port, servername: 'untrusted.test' })
      : address === SLOW_TLS
        ? tls.connect({ host: address, port, servername: 'slow.test', ca: testCa })
        : net.connect({ host: address, port });
    socket.once(secure ? 'secureConnect' : 'connect', () => done(null, socket));
    socket.once('error', (err) => done(err, null));
    attempts.push({ address, socket });
    return socket;
  };
  return { dial, attempts };
}

/** Errors another address may mend: a refusal, and a connect timeout (as undici's is). */
const retryable = (err: Error): boolean => ['ECONNREFUSED', 'ETIMEDOUT'].includes((err as NodeJS.ErrnoException).code ?? '');

/** recordingDial whose attempts give up after `ms` (ETIMEDOUT), as a connect timeout makes them; counts attempts in flight. */
function givingUpDial(ms: number): { dial: Dial; attempts: Array<{ address: string; socket: net.Socket }>; most: () => number } {
  const { dial: real, attempts } = recordingDial();
  let inFlight = 0;
  let most = 0;
  const dial: Dial = (candidate, done) => {
    inFlight++;
    most = Math.max(most, inFlight);
    const finish: typeof done = (err, socket) => {
      inFlight--;
      clearTimeout(giveUp);
      done(err, socket);
    };
    const socket = real(candidate, finish);
    const giveUp = setTimeout(() => socket.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })), ms);
    return socket;
  };
  return { dial, attempts, most: () => most };
}

/** Runs one race; resolves with its single outcome, counting callbacks for a while after. */
async function race(addresses: string[], dial: Dial): Promise<{ err: Error | null; socket: net.Socket | null; ms: number; calls: () => number }> {
  let calls = 0;
  const started = performance.now();
  return new Promise((resolve) => {
    connectStaggered(addresses.map(v4), dial, retryable, (err, socket) => {
      calls++;
      if (calls === 1) resolve({ err, socket, ms: performance.now() - started, calls: () => calls });
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.skipIf(skip)('staggered connection attempts', () => {
  it('tries the next address 250 ms into an unanswered attempt, and closes the attempt that lost', async () => {
    const { dial, attempts } = recordingDial();
    const r = await race([DEAD, LIVE], dial);
    expect(r.err).toBeNull();
    expect(r.socket?.remoteAddress).toBe(LIVE);
    expect(r.ms).toBeGreaterThanOrEqual(240);
    expect(r.ms).toBeLessThan(1000);
    expect(attempts.map((a) => a.address)).toEqual([DEAD, LIVE]);
    expect(attempts[0]?.socket.destroyed).toBe(true);
    await sleep(300);
    expect(r.calls()).toBe(1);
    r.socket?.destroy();
  });

  it('moves on at once when an attempt fails, without waiting out the delay', async () => {
    const { dial, attempts } = recordingDial();
    const r = await race([REFUSED, LIVE], dial);
    expect(r.err).toBeNull();
    expect(r.socket?.remoteAddress).toBe(LIVE);
    expect(r.ms).toBeLessThan(200);
    expect(attempts.map((a) => a.address)).toEqual([REFUSED, LIVE]);
    r.socket?.destroy();
  });

  it('makes no further attempt once one has connected', async () => {
    const { dial, attempts } = recordingDial();
    const r = await race([LIVE, DEAD], dial);
    expect(r.socket?.remoteAddress).toBe(LIVE);
    await sleep(400); // past the delay: no timer was left to start the next attempt
    expect(attempts.map((a) => a.address)).toEqual([LIVE]);
    expect(r.calls()).toBe(1);
    r.socket?.destroy();
  });

  it('keeps every unanswered attempt going until one connects, then closes them all', async () => {
    const { dial, attempts } = recordingDial();
    const r = await race([DEAD, DEAD_TOO, LIVE], dial);
    expect(r.socket?.remoteAddress).toBe(LIVE);
    expect(r.ms).toBeGreaterThanOrEqual(490);
    expect(r.ms).toBeLessThan(1500);
    expect(attempts.map((a) => [a.address, a.socket.destroyed])).toEqual([[DEAD, true], [DEAD_TOO, true], [LIVE, false]]);
    r.socket?.destroy();
  });

  it('reports the last failure, once, when every address fails', async () => {
    const { dial } = recordingDial();
    const r = await race([REFUSED, REFUSED], dial);
    expect(r.socket).toBeNull();
    expect((r.err as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    await sleep(300);
    expect(r.calls()).toBe(1);
  });

  it('tries no address after a failure another address cannot mend (a certificate that fails verification)', async () => {
    const { dial, attempts } = givingUpDial(1200);
    const r = await race([DEAD, UNTRUSTED, LIVE], dial);
    expect(r.socket).toBeNull();
    expect((r.err as NodeJS.ErrnoException).code).toMatch(/SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY/);
    // Reported once the attempt still running at the dead address gave up by itself.
    expect(r.ms).toBeGreaterThanOrEqual(1190);
    await sleep(400);
    expect(attempts.map((a) => a.address)).toEqual([DEAD, UNTRUSTED]);
    expect(r.calls()).toBe(1);
  });

  it('lets an earlier attempt still connecting win after a later one failed for good', async () => {
    const { dial: real, attempts } = recordingDial();
    // The first address takes 600 ms to connect (its TCP connection included).
    const dial: Dial = (candidate, done) => {
      if (candidate.address !== LIVE) return real(candidate, done);
      const pending = new net.Socket();
      setTimeout(() => real(candidate, done), 600);
      return pending;
    };
    const r = await race([LIVE, UNTRUSTED], dial);
    expect(r.err).toBeNull();
    expect(r.socket?.remoteAddress).toBe(LIVE);
    expect(r.ms).toBeGreaterThanOrEqual(590);
    expect(attempts.map((a) => a.address)).toEqual([UNTRUSTED, LIVE]);
    r.socket?.destroy();
  });

  it('starts no second attempt while the first, its TCP connection made, finishes a slow TLS handshake', async () => {
    const { dial, attempts } = recordingDial();
    const r = await race([SLOW_TLS, LIVE], dial);
    expect(r.err).toBeNull();
    expect(r.socket?.remoteAddress).toBe(SLOW_TLS);
    expect(r.ms).toBeGreaterThanOrEqual(SLOW_TLS_MS - 10);
    expect(attempts.map((a) => a.address)).toEqual([SLOW_TLS]);
    r.socket?.destroy();
  });

  it('reports the failure of the last address when all fail, as trying them in turn did', async () => {
    const { dial } = givingUpDial(800);
    // The refusal comes first in time, the dead address's timeout last; the refusal is reported.
    const r = await race([DEAD, REFUSED], dial);
    expect(r.socket).toBeNull();
    expect((r.err as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(r.ms).toBeGreaterThanOrEqual(790);
  });

  it(`holds at most ${MAX_ATTEMPTS_IN_FLIGHT} attempts at once: the next waits for one to fail`, async () => {
    // Dead addresses whose attempts give up after 1.2 s, as the connect timeout makes them.
    const GIVE_UP_MS = 1200;
    const { dial, attempts, most } = givingUpDial(GIVE_UP_MS);
    const dead = Array.from({ length: MAX_ATTEMPTS_IN_FLIGHT }, (_, i) => (i % 2 === 0 ? DEAD : DEAD_TOO));
    const r = await race([...dead, LIVE], dial);
    expect(r.socket?.remoteAddress).toBe(LIVE);
    expect(most()).toBe(MAX_ATTEMPTS_IN_FLIGHT);
    // The live address was tried only when the first dead attempt gave up.
    expect(r.ms).toBeGreaterThanOrEqual(GIVE_UP_MS - 10);
    expect(r.ms).toBeLessThan(GIVE_UP_MS + 1000);
    expect(attempts.map((a) => a.address)).toEqual([...dead, LIVE]);
    r.socket?.destroy();
  });

  it('takes a dial that throws, even from the timer, as a failed attempt', async () => {
    const { dial: real, attempts } = recordingDial();
    const dial: Dial = (candidate, done) => {
      if (candidate.address === REFUSED) throw Object.assign(new Error('cannot dial'), { code: 'ECONNREFUSED' });
      return real(candidate, done);
    };
    const r = await race([DEAD, REFUSED, LIVE], dial);
    expect(r.socket?.remoteAddress).toBe(LIVE);
    // The throw at 250 ms moved on to the live address at once.
    expect(r.ms).toBeGreaterThanOrEqual(240);
    expect(r.ms).toBeLessThan(450);
    expect(attempts.map((a) => a.address)).toEqual([DEAD, LIVE]);
    await sleep(300);
    expect(r.calls()).toBe(1);
    r.socket?.destroy();
  });

  it('copes with a dial that answers before it returns', async () => {
    const attempts: string[] = [];
    const { dial: real } = recordingDial();
    const dial: Dial = (candidate, done) => {
      attempts.push(candidate.address);
      if (candidate.address === REFUSED) {
        const socket = new net.Socket();
        done(Object.assign(new Error('refused at once'), { code: 'ECONNREFUSED' }), null);
        return socket;
      }
      return real(candidate, done);
    };
    const r = await race([REFUSED, DEAD, DEAD_TOO, LIVE], dial);
    expect(r.socket?.remoteAddress).toBe(LIVE);
    // One attempt started 250 ms after the other: the refusal's own timer was not left behind
    // to start a second attempt at the same moment.
    expect(r.ms).toBeGreaterThanOrEqual(490);
    expect(r.ms).toBeLessThan(1500);
    await sleep(400);
    expect(attempts).toEqual([REFUSED, DEAD, DEAD_TOO, LIVE]);
    expect(r.calls()).toBe(1);
    r.socket?.destroy();
  });
});

describe('the address that last connected goes first', () => {
  const list = [v4('10.0.0.1'), v4('10.0.0.2'), v4('10.0.0.3')];
  it('moves it to the front, the others keeping their order', () => {
    expect(preferAddress(list, '10.0.0.3').map((a) => a.address)).toEqual(['10.0.0.3', '10.0.0.1', '10.0.0.2']);
  });
  it('leaves the list alone for an address it does not hold (the name now resolves elsewhere), or none', () => {
    expect(preferAddress(list, '10.9.9.9')).toBe(list);
    expect(preferAddress(list, undefined)).toBe(list);
    expect(preferAddress(list, '10.0.0.1')).toBe(list);
  });
});
