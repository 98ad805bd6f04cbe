// On a credential host every byte that comes back through a WebSocket upgrade is scrubbed, as
// on any response (DESIGN §1): the refusal's reason phrase, headers and body, the 101's headers,
// and the server's frames after it, however the server fragments them. The origin here is a
// hostile one that echoes the real key it received in every one of those places; the agent,
// the `ws` client, must only ever see the surrogate.
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
import { skipUnlessTools } from '../helpers/tools.ts';

const skip = skipUnlessTools('websocket-scrub', ['openssl', 'dnsmasq']);

const REAL = 'sk-ws-REAL-secret-value-0123456789';
const SURROGATE = 'sk-ws-sluice-surrogate-000000000000';

let dns: TestResolver;
let origin: https.Server;
let wss: WebSocketServer;
let t: TestSluice;
let receivedAuth: string | undefined;
let receivedExtensions: string | undefined;

beforeAll(async () => {
  const pki = await createTestPki();
  const cert = await pki.issue(['creds.test', 'plain.test']);
  const port = await freePort();
  origin = https.createServer({ cert: readFileSync(cert.cert), key: readFileSync(cert.key) });
  wss = new WebSocketServer({ noServer: true, perMessageDeflate: true });
  // The hostile origin: what it received comes straight back, in the 101's headers too.
  wss.on('headers', (headers, req) => {
    headers.push(`X-Echo: ${String(req.headers.authorization)}`);
  });
  origin.on('upgrade', (req, socket, head) => {
    receivedAuth = req.headers.authorization;
    receivedExtensions = req.headers['sec-websocket-extensions'];
    const key = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (req.url === '/refuse-grpc') {
      // A refusal whose body names a gRPC encoding sluice cannot inflate: not passed on.
      const body = `{"error":"key ${key} is not allowed"}`;
      socket.end(`HTTP/1.1 401 Bad key\r\ncontent-type: application/json\r\ngrpc-encoding: snappy\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      return;
    }
    if (req.url === '/refuse') {
      const body = `{"error":"key ${key} is not allowed"}`;
      socket.end(`HTTP/1.1 401 Bad key ${key}\r\ncontent-type: application/json\r\nx-key: ${key}\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data) => {
        const text = String(data);
        if (text === 'whole') ws.send(`your key is ${key}`);
        if (text === 'fragments') {
          // The key split across three frames of one message, and a ping between them.
          const cut = [key.slice(0, 5), key.slice(5, 17), key.slice(17)];
          ws.send(`start ${cut[0]}`, { fin: false });
          ws.ping(Buffer.from(key));
          ws.send(cut[1] as string, { fin: false });
          ws.send(`${cut[2]} end`, { fin: true });
        }
        if (text === 'binary') ws.send(Buffer.from(`bin:${key}`), { binary: true });
        if (text === 'close') ws.close(4000, `bye ${key}`.slice(0, 120));
      });
    });
  });
  await new Promise<void>((resolve) => origin.listen(port, '127.0.0.1', resolve));
  dns = await startDnsmasq({ 'creds.test': ['127.0.0.1'], 'plain.test': ['127.0.0.1'] });
  t = await startTestSluice(`${localOriginToml({ caCert: pki.caCert, port, dns, names: ['creds.test', 'plain.test'] })}
[credentials.ws]
hosts = ["creds.test"]
surrogate = "${SURROGATE}"
secret = { file = "${secretFile(REAL)}" }
`);
});

afterAll(async () => {
  await t?.stop();
  wss?.close();
  await new Promise((resolve) => origin?.close(resolve));
  await dns?.stop();
});

function open(host: string, path: string, auth = true): WebSocket {
  return new WebSocket(`wss://${host}:${t.sluice.ports.https}${path}`, {
    ca: readFileSync(t.caCert),
    headers: auth ? { authorization: `Bearer ${SURROGATE}` } : {},
    lookup: lookupLoopback,
    perMessageDeflate: true,
  });
}

/** Everything the agent sees on one connection: the 101's headers, messages, pings, the close. */
async function session(path: string, send: string): Promise<{ headers: Record<string, unknown>; seen: string[] }> {
  const ws = open('creds.test', path);
  const seen: string[] = [];
  let headers: Record<string, unknown> = {};
  ws.on('upgrade', (res) => (headers = res.headers));
  ws.on('ping', (data) => seen.push(`ping:${String(data)}`));
  ws.on('message', (data) => seen.push(String(data)));
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => ws.send(send));
    ws.on('error', reject);
    ws.on('close', (code, reason) => {
      seen.push(`close:${code}:${String(reason)}`);
      resolve();
    });
    ws.on('message', () => {
      if (send !== 'close') ws.close();
    });
  });
  return { headers, seen };
}

describe.skipIf(skip)('WebSocket upgrades on a credential host', () => {
  it('swaps the surrogate for the real key in the handshake and offers no compression', async () => {
    const { headers } = await session('/socket', 'whole');
    expect(receivedAuth).toBe(`Bearer ${REAL}`);
    // A compressed frame could hide an echoed key from the scrub.
    expect(receivedExtensions).toBeUndefined();
    expect(headers['x-echo']).toBe(`Bearer ${SURROGATE}`);
    expect(JSON.stringify(headers)).not.toContain(REAL);
  });

  it('scrubs a message that echoes the key', async () => {
    const { seen } = await session('/socket', 'whole');
    expect(seen[0]).toBe(`your key is ${SURROGATE}`);
  });

  it('scrubs a key split across the fragments of one message, and in a ping between them', async () => {
    const { seen } = await session('/socket', 'fragments');
    expect(seen).toContain(`start ${SURROGATE} end`);
    expect(seen).toContain(`ping:${SURROGATE}`);
    expect(seen.join('\n')).not.toContain(REAL.slice(5, 17));
  });

  it('scrubs binary messages too', async () => {
    const { seen } = await session('/socket', 'binary');
    expect(seen[0]).toBe(`bin:${SURROGATE}`);
  });

  it('scrubs the reason of a close frame', async () => {
    const { seen } = await session('/socket', 'close');
    const close = seen.find((s) => s.startsWith('close:')) as string;
    expect(close.startsWith('close:4000:bye ')).toBe(true);
    expect(close).not.toContain(REAL.slice(0, 12));
  });

  it('scrubs a refusal: reason phrase, headers and body', async () => {
    const ws = open('creds.test', '/refuse');
    const answer = await new Promise<{ status: number; reason: string; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += String(c)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? '', headers: res.headers, body }));
      });
      ws.on('open', () => reject(new Error('should not open')));
    });
    expect(answer.status).toBe(401);
    expect(answer.reason).toBe(`Bad key ${SURROGATE}`);
    expect(answer.headers['x-key']).toBe(SURROGATE);
    expect(answer.body).toBe(`{"error":"key ${SURROGATE} is not allowed"}`);
    await t.waitForLog((l) => l.host === 'creds.test' && l.path === '/refuse' && l.status === 401);
  });

  it('cuts a refusal whose body it could not inspect, rather than ending it as if whole', async () => {
    const ws = open('creds.test', '/refuse-grpc');
    const answer = await new Promise<{ status: number; body: string; aborted: boolean }>((resolve, reject) => {
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        let aborted = false;
        res.on('data', (c: Buffer) => (body += String(c)));
        res.on('aborted', () => (aborted = true));
        res.on('error', () => (aborted = true));
        res.on('close', () => resolve({ status: res.statusCode ?? 0, body, aborted }));
      });
      ws.on('open', () => reject(new Error('should not open')));
    });
    expect(answer).toEqual({ status: 401, body: '', aborted: true });
  });

  it('leaves other hosts\' frames and compression alone', async () => {
    const ws = open('plain.test', '/socket', false);
    const reply = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send('whole'));
      ws.on('message', (d) => resolve(String(d)));
      ws.on('error', reject);
    });
    ws.close();
    // No credential on plain.test: no scrub, and the extension offer passes unchanged.
    expect(reply).toBe('your key is ');
    expect(receivedExtensions).toContain('permessage-deflate');
  });
});
