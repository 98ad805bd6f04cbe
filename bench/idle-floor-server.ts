// Child process of bench/idle-floor.ts: one kind of Node TLS server on 127.0.0.1:PORT, with a
// generated ECDSA P-256 certificate, answering each request with a 2-byte body. It prints one
// JSON line when listening, and on each line of stdin collects garbage and prints its memory as
// one JSON line.
//
// usage: node --expose-gc idle-floor-server.ts KIND PORT CERT KEY
//   KIND: tls (a bare TLS socket that answers every read), https (node:https),
//         h2 (http2.createSecureServer with allowHTTP1, sluice's listener); a "-x25519" suffix
//         offers X25519 alone, as sluice does to its agents.
import http2 from 'node:http2';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import tls from 'node:tls';

const [kind = 'tls', port = '0', certFile = '', keyFile = ''] = process.argv.slice(2);
const options: tls.TlsOptions = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
if (kind.endsWith('-x25519')) options.ecdhCurve = 'X25519';
const RESPONSE = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';

function answer(_req: unknown, res: { writeHead(status: number, headers: Record<string, string>): void; end(body: string): void }): void {
  res.writeHead(200, { 'content-length': '2' });
  res.end('ok');
}

function serverFor(base: string): tls.Server {
  if (base === 'https') return https.createServer({ ...options, keepAliveTimeout: 600_000 }, answer);
  if (base === 'h2') return http2.createSecureServer({ ...options, allowHTTP1: true }, answer as never) as unknown as tls.Server;
  return tls.createServer(options, (socket) => {
    socket.on('data', () => socket.write(RESPONSE));
    socket.on('error', () => undefined);
  });
}

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');
const server = serverFor(kind.replace(/-x25519$/, ''));
server.listen(Number(port), '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ listening: port })}\n`));
createInterface({ input: process.stdin }).on('line', async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const status = readFileSync('/proc/self/status', 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  process.stdout.write(`${JSON.stringify({ rssKib: kib('VmRSS'), anonKib: kib('RssAnon'), heapUsedKib: process.memoryUsage().heapUsed / 1024 })}\n`);
});
