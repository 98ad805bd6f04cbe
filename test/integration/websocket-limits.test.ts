// WebSocket limits after the upgrade (the `ws` client and server on both sides of sluice):
// frame and message size caps per direction (close 1009), ping/pong and close codes passing
// through, an idle timeout (close 1001), and the OpenAI Realtime handshake shape end to end
// with its credential swapped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { WebSocket, WebSocketServer } from 'ws';
import { createTestPki } from '../helpers/pki.ts';
import { startDnsmasq, type TestResolver } from '../helpers/dnsmasq.ts';
import { localOriginToml, secretFile } from '../helpers/local-origin.ts';
import { lookupLoopback } from '../helpers/loopback-lookup.ts';
import { startTestSluice, type TestSluice } from '../helpers/sluice.ts';
import { freePort } from '../helpers/ports.ts';

const REAL = 'sk-proj-REAL-openai-key-0123456789';
const SURROGATE = 'sk-proj-sluice-surrogate-000000000';

let dns: TestResolver;
let origin: https.Server;
let wss: WebSocketServer;
let t: TestSluice;
const serverSaw: { closes: Array<[number, string]>; auth: string[]; beta: string[] } = { closes: [], auth: [], beta: [] };

beforeAll(async () => {
  const pki = await createTestPki();
  const cert = await pki.issue(['ws.test', 'api.openai.com']);
  const port = await freePort();
  origin = https.createServer({ cert: readFileSync(cert.cert), key: readFileSync(cert.key) });
  wss = new WebSocketServer({ server: origin, maxPayload: 1 << 30 });
  wss.on('connection', (ws, req) => {
    serverSaw.auth.push(String(req.headers.authorization));
    serverSaw.beta.push(String(req.headers['openai-beta']));
    ws.on('close', (code, reason) => serverSaw.closes.push([code, String(reason)]));
    if (req.url?.startsWith('/v1/realtime') === true) {
      // The Realtime API's first event, then an answer to session.update.
      ws.send(JSON.stringify({ type: 'session.created', event_id: 'event_1', session: { id: 'sess_1', model: 'gpt-realtime' } }));
      ws.on('message', (data) => {
        const event = JSON.parse(String(data)) as { type: string; session?: unknown };
        if (event.type === 'session.update') ws.send(JSON.stringify({ type: 'session.updated', event_id: 'event_2', session: event.session }));
      });
      return;
    }
    ws.on('message', (data, isBinary) => {
      const text = String(data);
      if (text === 'big') ws.send(Buffer.alloc(2_000, 0x61));
      else if (text.startsWith('close:')) ws.close(Number(text.slice(6)), 'custom reason');
      else ws.send(data, { binary: isBinary });
    });
  });
  await new Promise<void>((resolve) => origin.listen(port, '127.0.0.1', resolve));
  dns = await startDnsmasq({ 'ws.test': ['127.0.0.1'], 'api.openai.com': ['127.0.0.1'] });
  t = await startTestSluice(`${localOriginToml({ caCert: pki.caCert, port, dns, names: ['ws.test', 'api.openai.com'] })}
[websocket]
max_frame_bytes = 1024
max_message_bytes = 4096
idle_timeout_ms = 800
[credentials.openai]
hosts = ["api.openai.com"]
surrogate = "${SURROGATE}"
secret = { file = "${secretFile(REAL)}" }
`);
});

afterAll(async () => {
  await t?.stop();
  for (const c of wss?.clients ?? []) c.terminate();
  wss?.close();
  await new Promise((resolve) => origin?.close(resolve));
  await dns?.stop();
});

function open(host: string, path: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(`wss://${host}:${t.sluice.ports.https}${path}`, {
    ca: readFileSync(t.caCert),
    headers,
    maxPayload: 1 << 30,
    lookup: lookupLoopback,
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function closed(ws: WebSocket): Promise<[number, string]> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve([code, String(reason)])));
}

describe('WebSocket limits through sluice', () => {
  it('passes messages within the limits, and ping/pong', async () => {
    const ws = await open('ws.test', '/echo');
    ws.send(Buffer.alloc(1_000, 0x62));
    const echoed = await new Promise<Buffer>((resolve) => ws.once('message', (d) => resolve(d as Buffer)));
    expect(echoed.length).toBe(1_000);
    ws.ping(Buffer.from('are you there'));
    const pong = await new Promise<string>((resolve) => ws.once('pong', (d) => resolve(String(d))));
    expect(pong).toBe('are you there');
    ws.close(1000);
    await closed(ws);
  });

  it('closes both sides with 1009 when the agent sends a frame over max_frame_bytes', async () => {
    const ws = await open('ws.test', '/echo');
    const before = serverSaw.closes.length;
    ws.send(Buffer.alloc(2_000, 0x63));
    const [code, reason] = await closed(ws);
    expect(code).toBe(1009);
    expect(reason).toContain('max_frame_bytes');
    await expect.poll(() => serverSaw.closes.slice(before).map(([c]) => c), { timeout: 3_000 }).toContain(1009);
  });

  it('closes with 1009 when a fragmented message exceeds max_message_bytes', async () => {
    const ws = await open('ws.test', '/echo');
    for (let i = 0; i < 5; i++) ws.send(Buffer.alloc(1_000, 0x64), { fin: i === 4 });
    const [code, reason] = await closed(ws);
    expect(code).toBe(1009);
    expect(reason).toContain('max_message_bytes');
  });

  it('closes with 1009 when the server sends a frame over max_frame_bytes', async () => {
    const ws = await open('ws.test', '/echo');
    ws.send('big');
    const [code] = await closed(ws);
    expect(code).toBe(1009);
  });

  it('passes the close codes and reasons of both peers', async () => {
    const ws = await open('ws.test', '/echo');
    ws.send('close:4001');
    expect(await closed(ws)).toEqual([4001, 'custom reason']);
    const ws2 = await open('ws.test', '/echo');
    const before = serverSaw.closes.length;
    ws2.close(4002, 'agent says bye');
    await closed(ws2);
    await expect.poll(() => serverSaw.closes.slice(before), { timeout: 3_000 }).toContainEqual([4002, 'agent says bye']);
  });

  it('closes an idle WebSocket with 1001, while pings keep a quiet one open', async () => {
    const ws = await open('ws.test', '/echo');
    const started = Date.now();
    const [code, reason] = await closed(ws);
    expect(code).toBe(1001);
    expect(reason).toContain('idle');
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);

    const kept = await open('ws.test', '/echo');
    let open_ = true;
    kept.once('close', () => (open_ = false));
    for (let i = 0; i < 6; i++) {
      kept.ping();
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    // 1.8 s of pings every 300 ms: longer than the 800 ms idle timeout, still open.
    expect(open_).toBe(true);
    kept.close(1000);
    await closed(kept);
  });

  it('carries the OpenAI Realtime handshake and events, with the key swapped', async () => {
    const ws = await open('api.openai.com', '/v1/realtime?model=gpt-realtime', {
      authorization: `Bearer ${SURROGATE}`,
      'openai-beta': 'realtime=v1',
    });
    const events: Array<{ type: string }> = [];
    ws.on('message', (d) => events.push(JSON.parse(String(d)) as { type: string }));
    await expect.poll(() => events.map((e) => e.type), { timeout: 3_000 }).toContain('session.created');
    ws.send(JSON.stringify({ type: 'session.update', session: { instructions: 'be brief' } }));
    await expect.poll(() => events.map((e) => e.type), { timeout: 3_000 }).toContain('session.updated');
    expect(serverSaw.auth).toContain(`Bearer ${REAL}`);
    expect(serverSaw.beta).toContain('realtime=v1');
    ws.close(1000);
    await closed(ws);
    await t.waitForLog((l) => l.host === 'api.openai.com' && l.status === 101 && l.credential === 'openai');
  });
});
