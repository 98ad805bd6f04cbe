// WebSocket upgrades through sluice, with undici's WebSocket client (the one in Node's global
// scope) against a small WebSocket echo origin speaking RFC 6455 framing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { Agent, WebSocket } from 'undici';
import { createTestPki } from '../helpers/pki.ts';
import { startDnsmasq, type TestResolver } from '../helpers/dnsmasq.ts';
import { localOriginToml } from '../helpers/local-origin.ts';
import { startTestSluice, type TestSluice } from '../helpers/sluice.ts';
import { freePort } from '../helpers/ports.ts';
import { skipUnlessTools } from '../helpers/tools.ts';

const skip = skipUnlessTools('websocket', ['openssl', 'dnsmasq']);

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Reads one masked client text frame (payload < 126 bytes) and returns its text. */
function readClientFrame(buf: Buffer): string | undefined {
  if (buf.length < 6) return undefined;
  const length = (buf[1] as number) & 0x7f;
  const mask = buf.subarray(2, 6);
  const payload = buf.subarray(6, 6 + length);
  return Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number))).toString();
}

function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
}

let dns: TestResolver;
let origin: https.Server;
let t: TestSluice;
let seenHeaders: Record<string, string | string[] | undefined> = {};

beforeAll(async () => {
  const pki = await createTestPki();
  const cert = await pki.issue(['ws.test']);
  const port = await freePort();
  origin = https.createServer({ cert: readFileSync(cert.cert), key: readFileSync(cert.key) }, (_req, res) => res.end('not a websocket\n'));
  origin.on('upgrade', (req, socket: Duplex) => {
    seenHeaders = req.headers;
    const accept = createHash('sha1').update(`${String(req.headers['sec-websocket-key'])}${GUID}`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.on('data', (chunk: Buffer) => {
      const text = readClientFrame(chunk);
      if (text !== undefined) socket.write(textFrame(`echo: ${text}`));
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => origin.listen(port, '127.0.0.1', resolve));
  dns = await startDnsmasq({ 'ws.test': ['127.0.0.1'] });
  t = await startTestSluice(localOriginToml({ caCert: pki.caCert, port, dns, names: ['ws.test'] }));
});

afterAll(async () => {
  await t?.stop();
  await new Promise((resolve) => origin?.close(resolve));
  await dns?.stop();
});

function connect(host: string): { ws: WebSocket; dispatcher: Agent } {
  const dispatcher = new Agent({
    connect: {
      ca: readFileSync(t.caCert, 'utf8'),
      lookup: (_h: string, _o: unknown, cb: (e: null, a: { address: string; family: number }[]) => void) => cb(null, [{ address: '127.0.0.1', family: 4 }]),
    } as never,
  });
  const ws = new WebSocket(`wss://${host}:${t.sluice.ports.https}/socket?x=1`, { dispatcher } as never);
  return { ws, dispatcher };
}

describe.skipIf(skip)('WebSocket upgrades', () => {
  it('upgrades through sluice and carries messages both ways', async () => {
    const { ws, dispatcher } = connect('ws.test');
    const reply = await new Promise<string>((resolve, reject) => {
      ws.addEventListener('open', () => ws.send('hi'));
      ws.addEventListener('message', (ev) => resolve(String(ev.data)));
      ws.addEventListener('error', () => reject(new Error('websocket error')));
    });
    expect(reply).toBe('echo: hi');
    expect(seenHeaders.host).toBe(`ws.test:${t.sluice.ports.https}`);
    expect(seenHeaders['x-forwarded-for']).toBeUndefined();
    ws.close();
    await dispatcher.close();
    const line = await t.waitForLog((l) => l.host === 'ws.test' && l.path === '/socket?x=1');
    expect(line).toMatchObject({ status: 101, decision: 'allow' });
  });

  it('refuses an upgrade to a host outside the allowlist', async () => {
    const { ws, dispatcher } = connect('denied.test');
    const outcome = await new Promise<string>((resolve) => {
      ws.addEventListener('open', () => resolve('open'));
      ws.addEventListener('error', () => resolve('error'));
    });
    expect(outcome).toBe('error');
    await dispatcher.close();
    await t.waitForLog((l) => l.host === 'denied.test' && l.reason === 'not_allowlisted' && l.status === 403);
  });
});
