// The gRPC and WebSocket services of the streams suite, run as one process inside the fake
// internet's namespace (streams-internet.ts starts it). Like real services, both demand the
// REAL bearer token and refuse anything else, so a client only succeeds if sluice swapped its
// surrogate; both echo the token they received back (in replies, a trailer, a status message,
// the 101's headers, a WebSocket message), as services that echo a key do: the agent must get
// its surrogate back instead.
//   gRPC (@grpc/grpc-js, TLS, h2 by ALPN) on the gRPC addresses :443, service streams-service.ts
//   WebSocket (`ws` on node:https) on the WebSocket addresses :443
// Every call and every upgrade (host, SNI, path, authorization, …) is appended to a JSON-lines
// record file.
// Usage: node streams-origin.ts CONFIG.json   (prints "ready" once every listener is bound)
import { appendFileSync, readFileSync } from 'node:fs';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { WebSocketServer } from 'ws';
import { STREAMS_SERVICE, type Msg } from './streams-service.ts';

export interface StreamsOriginConfig {
  record: string;
  grpcAddresses: string[];
  wsAddresses: string[];
  cert: { cert: string; key: string };
  /** The bearer token both services demand. */
  real: string;
}

export interface StreamsOriginRecord {
  kind: 'grpc' | 'ws';
  /** gRPC: the :authority; WebSocket: the Host header. */
  host: string;
  /** WebSocket only (grpc-js does not expose it). */
  sni?: string;
  path: string;
  authorization: string | undefined;
  /** WebSocket: the extensions offered. */
  extensions?: string;
}

const config = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as StreamsOriginConfig;
const record = (entry: StreamsOriginRecord): void => appendFileSync(config.record, `${JSON.stringify(entry)}\n`);
const tokenOf = (authorization: string | undefined): string => String(authorization ?? '').replace(/^Bearer\s+/i, '');
const bracket = (a: string): string => (a.includes(':') ? `[${a}]` : a);

/** Records the call; answers UNAUTHENTICATED (and returns undefined) unless it carries the real token. */
function admit(call: { metadata: grpc.Metadata; getHost(): string }, path: string): string | undefined {
  const authorization = call.metadata.get('authorization')[0] as string | undefined;
  record({ kind: 'grpc', host: call.getHost(), path, authorization });
  return tokenOf(authorization) === config.real ? tokenOf(authorization) : undefined;
}
const unauthenticated = { code: grpc.status.UNAUTHENTICATED, details: 'invalid bearer token' };

const grpcServer = new grpc.Server();
grpcServer.addService(STREAMS_SERVICE, {
  Unary(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
    const token = admit(call, STREAMS_SERVICE.Unary.path);
    if (token === undefined) return cb(unauthenticated);
    if (call.request.text === 'fail') return cb({ code: grpc.status.NOT_FOUND, details: 'no such thing' });
    // A status message that echoes the key, as "token X may not do this" errors do.
    if (call.request.text === 'echo-in-status') return cb({ code: grpc.status.FAILED_PRECONDITION, details: `token ${token} is read-only` });
    const trailer = new grpc.Metadata();
    trailer.set('x-trailer', 'kept');
    if (call.request.text === 'echo-in-trailer') trailer.set('x-key-seen', token);
    cb(null, { text: `echo ${call.request.text} with ${token}` }, trailer);
  },
  ServerStream(call: grpc.ServerWritableStream<Msg, Msg>) {
    const token = admit(call, STREAMS_SERVICE.ServerStream.path);
    if (token === undefined) {
      call.emit('error', unauthenticated);
      return;
    }
    if (call.request.text === 'echo-in-status') {
      // A status message after a message: it travels in real HTTP/2 trailers, not trailers-only.
      call.write({ text: 'one' });
      setTimeout(() => call.emit('error', { code: grpc.status.FAILED_PRECONDITION, details: `token ${token} is read-only` }), 20);
      return;
    }
    let n = 0;
    const timer = setInterval(() => {
      if (call.cancelled) return clearInterval(timer);
      n += 1;
      call.write({ text: n === 3 ? `${call.request.text}-${n} key ${token}` : `${call.request.text}-${n}` });
      if (n === 3) {
        clearInterval(timer);
        const trailer = new grpc.Metadata();
        trailer.set('x-count', String(n));
        call.end(trailer);
      }
    }, 20);
    call.on('cancelled', () => clearInterval(timer));
  },
  Bidi(call: grpc.ServerDuplexStream<Msg, Msg>) {
    const token = admit(call, STREAMS_SERVICE.Bidi.path);
    if (token === undefined) {
      call.emit('error', unauthenticated);
      return;
    }
    call.on('data', (m: Msg) => call.write({ text: m.text === 'key' ? `your key is ${token}` : m.text.toUpperCase() }));
    call.on('end', () => call.end());
  },
});
const grpcCredentials = grpc.ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(config.cert.cert), private_key: readFileSync(config.cert.key) }]);
for (const address of config.grpcAddresses) {
  await new Promise<void>((resolve, reject) => {
    grpcServer.bindAsync(`${bracket(address)}:443`, grpcCredentials, (err) => (err === null ? resolve() : reject(err)));
  });
}

// WebSocket: a plain node:https server whose upgrades `ws` completes once the token is right.
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: true });
wss.on('headers', (headers, req) => headers.push(`X-Echo: ${String(req.headers.authorization)}`));
const wsServers = config.wsAddresses.map((address) => {
  const server = https.createServer({ cert: readFileSync(config.cert.cert), key: readFileSync(config.cert.key) });
  server.on('request', (_req, res) => res.writeHead(426, { connection: 'close' }).end('upgrade required\n'));
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    const authorization = req.headers.authorization;
    record({
      kind: 'ws', host: String(req.headers.host), sni: (req.socket as tls.TLSSocket).servername || undefined, path: String(req.url),
      authorization, extensions: req.headers['sec-websocket-extensions'],
    });
    const token = tokenOf(authorization);
    if (token !== config.real) {
      socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-type: text/plain\r\ncontent-length: 14\r\nconnection: close\r\n\r\ninvalid token\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data, binary) => {
        const text = String(data);
        if (text === 'whole') ws.send(`your key is ${token}`);
        else if (text === 'close') ws.close(4000, 'bye from the origin');
        else ws.send(binary ? Buffer.from(`echo:${text}`) : `echo:${text}`, { binary });
      });
    });
  });
  return { server, address };
});
for (const { server, address } of wsServers) {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(443, address, () => resolve());
  });
}

const shutdown = (): void => {
  grpcServer.forceShutdown();
  for (const client of wss.clients) client.terminate();
  for (const { server } of wsServers) server.close();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
console.log('ready');
