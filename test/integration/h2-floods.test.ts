// HTTP/2 flood attacks against sluice on both sides, as raw frames: an agent that floods
// sluice's h2 server (CONTINUATION without end, PING and SETTINGS it never reads the answers
// to), and a hostile upstream that does the same to sluice's h2 client (undici). Each must end
// the attacker's connection or exchange with bounded memory while another client keeps being
// served. Rapid reset and the 100-stream cap are in memory-exhaustion.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http2 from 'node:http2';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { createTestPki } from '../helpers/pki.ts';
import { startDnsmasq, type TestResolver } from '../helpers/dnsmasq.ts';
import { lookupLoopback } from '../helpers/loopback-lookup.ts';
import { startTestSluice, type TestSluice } from '../helpers/sluice.ts';
import { skipUnlessTools } from '../helpers/tools.ts';
import { FLAG, PREFACE, TYPE, frame, hpackBlock } from '../fuzz/raw-h2.ts';

const skip = skipUnlessTools('h2-floods', ['openssl', 'dnsmasq']);

let dns: TestResolver;
let origin: tls.Server;
let t: TestSluice;
const h2Origin = http2.createServer((_req, res) => res.end('ok'));

/** One connection's behaviour, chosen by the name sluice asked for. */
function hostileUpstream(socket: tls.TLSSocket): void {
  socket.on('error', () => {});
  if (socket.servername === 'ok.test') {
    h2Origin.emit('connection', socket);
    return;
  }
  socket.write(Buffer.concat([frame(TYPE.settings, 0, 0, Buffer.alloc(0))]));
  if (socket.servername === 'ping-flood.test') {
    // PINGs as fast as the socket takes them, never reading the ACKs.
    const ping = frame(TYPE.ping, 0, 0, Buffer.alloc(8));
    const burst = Buffer.concat(Array.from({ length: 1000 }, () => ping));
    let sent = 0;
    const pump = (): void => {
      while (sent < 300 && !socket.destroyed && socket.write(burst)) sent++;
      if (sent < 300 && !socket.destroyed) socket.once('drain', pump);
    };
    pump();
  }
  if (socket.servername === 'continuation-flood.test') {
    // Response headers for stream 1 that never end.
    socket.once('data', () => {
      socket.write(frame(TYPE.headers, 0, 1, hpackBlock([[':status', '200']])));
      const junk = frame(TYPE.continuation, 0, 1, hpackBlock([['x-junk', 'j'.repeat(16_000)]]));
      let sent = 0;
      const pump = (): void => {
        while (sent < 2000 && !socket.destroyed && socket.write(junk)) sent++;
        if (sent < 2000 && !socket.destroyed) socket.once('drain', pump);
      };
      pump();
    });
  }
}

beforeAll(async () => {
  if (skip) return;
  const pki = await createTestPki();
  const names = ['ok.test', 'ping-flood.test', 'continuation-flood.test'];
  const cert = await pki.issue(names);
  origin = tls.createServer({ cert: readFileSync(cert.cert), key: readFileSync(cert.key), ALPNProtocols: ['h2'] }, hostileUpstream);
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const port = (origin.address() as { port: number }).port;
  dns = await startDnsmasq(Object.fromEntries(names.map((n) => [n, ['127.0.0.1']])));
  t = await startTestSluice(`
[proxy]
extra_upstream_ca = "${pki.caCert}"
[upstream]
https_port = ${port}
headers_timeout_ms = 5000
# The hostile upstream speaks h2 only: every request offers it.
http2 = true
[dns]
upstream = "${dns.address}"
${names.map((n) => `[[allow]]\nhost = "${n}"\nprivate = true\n`).join('\n')}
`);
});

afterAll(async () => {
  await t?.stop();
  await new Promise((resolve) => origin?.close(resolve));
  h2Origin.close();
  await dns?.stop();
});

/** A well-behaved client's GET through sluice (h2): its status, or 0 on failure. */
async function control(host = 'ok.test'): Promise<number> {
  const session = http2.connect(`https://${host}:${t.sluice.ports.https}`, {
    ca: readFileSync(t.caCert),
    lookup: lookupLoopback,
  });
  session.on('error', () => {});
  try {
    return await new Promise<number>((resolve) => {
      const req = session.request({ ':path': '/' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', () => resolve(0));
      req.setTimeout(10_000, () => resolve(0));
      req.resume();
      req.end();
    });
  } finally {
    session.destroy();
  }
}

/** Opens an h2 connection to sluice and writes `attack`; resolves with how it ended. */
function attack(write: (socket: tls.TLSSocket) => void, readAfterMs: number): Promise<{ goaway: boolean; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port: t.sluice.ports.https, servername: 'ok.test', ca: readFileSync(t.caCert), ALPNProtocols: ['h2'] });
    let goaway = false;
    let buffer = Buffer.alloc(0);
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ goaway, closed: true });
    };
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ goaway, closed: false });
    }, 15_000);
    socket.on('error', done);
    socket.on('close', done);
    socket.once('secureConnect', () => {
      socket.pause(); // read nothing: answers pile up on sluice's side
      socket.write(Buffer.concat([PREFACE, frame(TYPE.settings, 0, 0, Buffer.alloc(0))]));
      write(socket);
      setTimeout(() => {
        socket.on('data', (chunk: Buffer) => {
          buffer = Buffer.concat([buffer, chunk]);
          while (buffer.length >= 9) {
            const length = buffer.readUIntBE(0, 3);
            if (buffer.length < 9 + length) break;
            if (buffer[3] === TYPE.goaway) goaway = true;
            buffer = buffer.subarray(9 + length);
          }
        });
        socket.resume();
      }, readAfterMs);
    });
  });
}

/** Writes `unit` up to `times` times, honouring back-pressure, while the socket lives. */
function flood(socket: tls.TLSSocket, unit: Buffer, times: number): void {
  let sent = 0;
  const pump = (): void => {
    while (sent < times && !socket.destroyed && socket.write(unit)) sent++;
    if (sent < times && !socket.destroyed) socket.once('drain', pump);
  };
  pump();
}

describe.skipIf(skip)('h2 floods from the agent', () => {
  it('CONTINUATION without end: the connection is ended, memory stays bounded, others are served', async () => {
    const before = process.memoryUsage().rss;
    const outcome = await attack((s) => {
      s.write(frame(TYPE.headers, FLAG.endStream, 1, hpackBlock([[':method', 'GET'], [':scheme', 'https'], [':authority', 'ok.test'], [':path', '/']])));
      flood(s, frame(TYPE.continuation, 0, 1, hpackBlock([['x-junk', 'j'.repeat(16_000)]])), 2000);
    }, 0);
    expect(outcome.closed).toBe(true);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
    expect(await control()).toBe(200);
  });

  it('a PING flood whose answers are never read ends the connection, memory bounded', async () => {
    const before = process.memoryUsage().rss;
    const ping = frame(TYPE.ping, 0, 0, Buffer.alloc(8));
    // 2,000,000 PINGs (34 MB) if sluice keeps reading them.
    const outcome = await attack((s) => flood(s, Buffer.concat(Array.from({ length: 1000 }, () => ping)), 2000), 1_000);
    // Ended by sluice (GOAWAY, then closed: an attacker that reads nothing may never see it).
    expect(outcome.closed).toBe(true);
    expect(process.memoryUsage().rss - before).toBeLessThan(32 * 1024 * 1024);
    expect(await control()).toBe(200);
  });

  it('a SETTINGS flood whose ACKs are never read ends the connection', async () => {
    const settings = frame(TYPE.settings, 0, 0, Buffer.from([0, 3, 0, 0, 0, 100]));
    const outcome = await attack((s) => flood(s, Buffer.concat(Array.from({ length: 1000 }, () => settings)), 200), 1_000);
    expect(outcome.closed).toBe(true);
    expect(await control()).toBe(200);
  });
});

describe.skipIf(skip)('h2 floods from a hostile upstream', () => {
  it('response headers that never end: the agent gets an error, not a hang, and others are served', async () => {
    const before = process.memoryUsage().rss;
    const status = await control('continuation-flood.test');
    expect([0, 502, 504]).toContain(status);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
    expect(await control()).toBe(200);
  });

  it('an upstream flooding PINGs does not take sluice down', async () => {
    const status = await control('ping-flood.test');
    expect([0, 502, 504]).toContain(status);
    expect(await control()).toBe(200);
  });
});
