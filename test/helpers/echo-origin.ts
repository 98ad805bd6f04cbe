// A Node origin for the cases nginx cannot play: it echoes the raw request headers, reports
// the size and sha256 of a request body, answers late or never, and cuts responses mid-body.
// It listens on its own loopback address (127.0.0.3, …) on the same ports as nginx, because
// sluice dials [upstream] https_port / http_port for every name.
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface EchoOrigin {
  address: string;
  /** Requests that reached the origin so far, by path (without query). */
  hits(path: string): number;
  stop(): Promise<void>;
}

/** Answers `bytes` bytes of 'x' (Content-Length), after `ms` milliseconds. */
function slow(res: http.ServerResponse, url: URL): void {
  const ms = Number(url.searchParams.get('ms') ?? '1000');
  const bytes = Number(url.searchParams.get('bytes') ?? '0');
  const timer = setTimeout(() => {
    const body = bytes > 0 ? Buffer.alloc(bytes, 'x') : Buffer.from(`slow ok after ${ms} ms\n`);
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  }, ms);
  res.once('close', () => clearTimeout(timer));
}

/** Writes a raw response prefix on the socket and then destroys it: an origin that dies mid-body. */
function cut(req: http.IncomingMessage, raw: string): void {
  const socket = req.socket;
  socket.write(raw);
  // Let the bytes leave before the reset, so sluice has started relaying the body.
  setTimeout(() => socket.destroy(), 200);
}

function handler(counts: Map<string, number>) {
  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://echo');
    counts.set(url.pathname, (counts.get(url.pathname) ?? 0) + 1);
    switch (url.pathname) {
      case '/headers': {
        // Raw headers in arrival order, so duplicates and case survive.
        const pairs: [string, string][] = [];
        for (let i = 0; i < req.rawHeaders.length; i += 2) pairs.push([req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string]);
        req.resume();
        const body = JSON.stringify(pairs);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      case '/sha256': {
        const hash = createHash('sha256');
        let bytes = 0;
        req.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          hash.update(chunk);
        });
        req.on('end', () => {
          const body = JSON.stringify({ bytes, sha256: hash.digest('hex') });
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
          res.end(body);
        });
        return;
      }
      case '/slow':
        req.resume();
        slow(res, url);
        return;
      case '/hang':
        // Reads the request and never answers.
        req.resume();
        return;
      case '/cut-length':
        req.resume();
        cut(req, `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(5000)}`);
        return;
      case '/cut-chunked':
        req.resume();
        cut(req, `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n${'y'.repeat(4096)}\r\n10\r\n${'z'.repeat(16)}\r\n`);
        return;
      default:
        req.resume();
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`echo ok ${url.pathname}\n`);
    }
  };
}

function listen(server: net.Server, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** HTTPS on address:httpsPort and plain HTTP on address:httpPort, same routes. */
export async function startEchoOrigin(tls: { cert: string; key: string }, address: string, ports: { httpsPort: number; httpPort: number }): Promise<EchoOrigin> {
  const counts = new Map<string, number>();
  const secure = https.createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, handler(counts));
  const plain = http.createServer(handler(counts));
  await listen(secure, address, ports.httpsPort);
  await listen(plain, address, ports.httpPort);
  return {
    address,
    hits: (path) => counts.get(path) ?? 0,
    async stop() {
      await Promise.all([close(secure), close(plain)]);
    },
  };
}

/**
 * A TCP listener that accepts connections and never says a word: a TLS client's handshake
 * never completes. Counts as "not connected" for sluice's connect timeout.
 */
export async function startSilentListener(address: string, port: number): Promise<{ accepted(): number; stop(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await listen(server, address, port);
  return {
    accepted: () => accepted,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
