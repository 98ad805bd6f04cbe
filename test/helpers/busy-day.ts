// A `sluice run` process after a busy day, for the SIGTERM drain suite: an origin that answers,
// hangs, streams a slow download and accepts WebSocket upgrades; and clients left in every
// state a day of agent traffic leaves behind (DESIGN.md §1 "SIGTERM ends with exit 0").
import http from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';
import type net from 'node:net';
import tls from 'node:tls';
import { createHash } from 'node:crypto';
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { createTestPki } from './pki.ts';
import { startDnsmasq } from './dnsmasq.ts';
import { startDaemon, waitFor } from './process.ts';
import { freePort } from './ports.ts';
import { makeTempDir, removeTempDir } from './temp-dir.ts';
import { openTcp, openTls, head, type RawConnection, type RawResponse } from './raw-http.ts';

const NAME = 'busy.test';
const bin = join(import.meta.dirname, '../../bin/sluice.js');

/** A client connection left open; `closedWithin` is how long after `since` sluice closed it. */
export interface IdleClient {
  name: string;
  closedWithin(timeoutMs: number, since: number): Promise<number | undefined>;
}

export interface DownloadResult {
  status: number | undefined;
  bytes: number;
  /** Set when the response did not arrive whole (cut, reset, no answer). */
  error: string | undefined;
  endedAt: number;
}

export interface BusyWorld {
  origin: { hits(path: string): number };
  /** Leaves hung, half-sent, idle keep-alive, idle h2 and idle WebSocket connections behind. */
  busyDay(): Promise<IdleClient[]>;
  /**
   * A GET over TLS whose client then half-closes (shutdown(SHUT_WR)) and waits: resolves once
   * the request is under way, with the response still to come.
   */
  halfClosed(path: string): Promise<{ response: Promise<RawResponse> }>;
  /** A GET through sluice that the caller awaits (HTTP/1.1 over TLS, or h2). */
  download(path: string, protocol?: 'http1' | 'h2'): Promise<DownloadResult>;
  /** Sends SIGTERM; SIGKILLs after `killAfterMs` (code null then). */
  terminate(killAfterMs: number): Promise<{ code: number | null; at: number }>;
  output(): string;
  accessLog(): Record<string, unknown>[];
  stop(): Promise<void>;
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function originHandler(hits: Map<string, number>) {
  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://origin');
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
    req.resume();
    if (url.pathname === '/hang') return;
    if (url.pathname === '/late') {
      const timer = setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5 });
        res.end('late\n');
      }, Number(url.searchParams.get('ms') ?? '1000'));
      res.once('close', () => clearTimeout(timer));
      return;
    }
    if (url.pathname === '/download') {
      // `bytes` in 8 chunks spread over `ms`: a download that is still running for a while.
      const ms = Number(url.searchParams.get('ms') ?? '4000');
      const bytes = Number(url.searchParams.get('bytes') ?? '1048576');
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes });
      let sent = 0;
      const timer = setInterval(() => {
        const n = Math.min(Math.ceil(bytes / 8), bytes - sent);
        sent += n;
        if (sent >= bytes) {
          clearInterval(timer);
          res.end(Buffer.alloc(n, 'd'));
        } else {
          res.write(Buffer.alloc(n, 'd'));
        }
      }, ms / 8);
      res.once('close', () => clearInterval(timer));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 });
    res.end('ok\n');
  };
}

function acceptWebSocket(req: http.IncomingMessage, socket: Duplex): void {
  const accept = createHash('sha1').update(`${String(req.headers['sec-websocket-key'])}${GUID}`).digest('base64');
  socket.on('error', () => {});
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
}

function listen(server: net.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

function rawIdle(name: string, conn: RawConnection): IdleClient {
  return { name, closedWithin: (timeoutMs, since) => conn.waitClosed(timeoutMs, since) };
}

export async function startBusyWorld(drainSeconds: number): Promise<BusyWorld> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    cleanups.length = 0;
  };
  try {
    const pki = await createTestPki();
    cleanups.push(() => removeTempDir(pki.dir));
    const cert = await pki.issue([NAME]);
    const hits = new Map<string, number>();
    const secure = https.createServer({ cert: readFileSync(cert.cert), key: readFileSync(cert.key) }, originHandler(hits));
    const plain = http.createServer(originHandler(hits));
    for (const s of [secure, plain]) {
      s.on('upgrade', acceptWebSocket);
      cleanups.push(() => new Promise<void>((resolve) => {
        s.closeAllConnections();
        s.close(() => resolve());
      }));
    }
    const originPorts = { https: await freePort(), http: await freePort() };
    await listen(secure, originPorts.https);
    await listen(plain, originPorts.http);
    // Upgraded sockets are no longer the server's: destroy them at the end too.
    const upgraded = new Set<Duplex>();
    for (const s of [secure, plain]) s.on('upgrade', (_req: http.IncomingMessage, socket: Duplex) => upgraded.add(socket));
    cleanups.push(() => {
      for (const s of upgraded) s.destroy();
    });
    const dns = await startDnsmasq({ [NAME]: ['127.0.0.1'] });
    cleanups.push(dns.stop);

    const dir = makeTempDir('busy');
    cleanups.push(() => removeTempDir(dir));
    const ports = { https: await freePort(), http: await freePort(), deny: await freePort(), dns: await freePort(), admin: await freePort() };
    const file = join(dir, 'sluice.toml');
    writeFileSync(file, `
[proxy]
agent = "busy-day"
extra_upstream_ca = "${pki.caCert}"
https_port = ${ports.https}
http_port = ${ports.http}
deny_port = ${ports.deny}
dns_port = ${ports.dns}
admin_port = ${ports.admin}
drain_seconds = ${drainSeconds}

[upstream]
https_port = ${originPorts.https}
http_port = ${originPorts.http}

[dns]
upstream = "${dns.address}"

[[allow]]
host = "${NAME}"
private = true
`);
    const daemon = await startDaemon(process.execPath, [bin, 'run', '-c', file], (out) => out.includes('listening on'), { cwd: dir, timeoutMs: 20_000 });
    cleanups.push(daemon.stop);
    const ca = readFileSync(join(dir, 'certs/ca.crt'));
    const caFile = join(dir, 'certs/ca.crt');

    const clientSockets = new Set<{ destroy(): void }>();
    cleanups.push(() => {
      for (const s of clientSockets) s.destroy();
    });
    const keep = <T extends { destroy(): void }>(s: T): T => {
      clientSockets.add(s);
      return s;
    };
    const h2Session = (): http2.ClientHttp2Session => {
      const session = http2.connect(`https://${NAME}`, {
        createConnection: () => tls.connect({ host: '127.0.0.1', port: ports.https, servername: NAME, ca, ALPNProtocols: ['h2'] }),
      });
      session.on('error', () => {});
      return keep(session);
    };
    const h2Idle = (name: string, session: http2.ClientHttp2Session): IdleClient => {
      let closedAt: number | undefined;
      const mark = (): void => {
        closedAt ??= performance.now();
      };
      session.once('close', mark);
      session.socket.once('end', mark);
      return {
        name,
        async closedWithin(timeoutMs, since) {
          await waitFor(() => closedAt !== undefined, timeoutMs, `${name} to close`).catch(() => undefined);
          return closedAt === undefined ? undefined : closedAt - since;
        },
      };
    };
    const h2Get = (session: http2.ClientHttp2Session, path: string): http2.ClientHttp2Stream =>
      session.request({ ':path': path, ':authority': NAME });

    const download = (path: string, protocol: 'http1' | 'h2' = 'http1'): Promise<DownloadResult> => new Promise((resolve) => {
      let status: number | undefined;
      let bytes = 0;
      let settled = false;
      const settle = (error: string | undefined): void => {
        if (settled) return;
        settled = true;
        resolve({ status, bytes, error, endedAt: performance.now() });
      };
      if (protocol === 'h2') {
        const session = h2Session();
        const stream = h2Get(session, path);
        stream.on('response', (h) => (status = Number(h[':status'])));
        stream.on('data', (c: Buffer) => (bytes += c.length));
        stream.on('end', () => settle(undefined));
        stream.on('error', (err: Error) => settle(err.message));
        stream.on('close', () => settle(stream.rstCode === http2.constants.NGHTTP2_NO_ERROR && status !== undefined ? undefined : `stream closed (rst ${stream.rstCode})`));
        return;
      }
      const req = https.get({ host: '127.0.0.1', port: ports.https, servername: NAME, ca, path, headers: { host: NAME }, agent: false }, (res) => {
        status = res.statusCode;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => settle(res.complete ? undefined : 'incomplete'));
        res.on('error', (err: Error) => settle(err.message));
        res.on('close', () => settle(res.complete ? undefined : 'closed before the end'));
      });
      keep(req);
      req.on('error', (err: Error) => settle(err.message));
    });

    const busyDay = async (): Promise<IdleClient[]> => {
      const idle: IdleClient[] = [];
      const ok = async (conn: RawConnection): Promise<void> => {
        await conn.write(head('GET /ok HTTP/1.1', `Host: ${NAME}`));
        const r = await conn.response();
        if (r.status !== 200) throw new Error(`warm-up request answered ${r.status}`);
      };
      // Hung upstreams whose clients gave up: an HTTP/1 connection closed, an h2 stream reset.
      const hangBefore = hits.get('/hang') ?? 0;
      const gaveUp = keep(await openTls(ports.https, NAME, caFile));
      await gaveUp.write(head('GET /hang HTTP/1.1', `Host: ${NAME}`));
      const resetSession = h2Session();
      const resetStream = h2Get(resetSession, '/hang');
      resetStream.on('error', () => {});
      await waitFor(() => (hits.get('/hang') ?? 0) >= hangBefore + 2, 5_000, 'the hung requests to reach the origin');
      gaveUp.destroy();
      resetStream.close(http2.constants.NGHTTP2_CANCEL);
      idle.push(h2Idle('h2 session whose stream was reset', resetSession));

      // Slow clients: headers half sent, and a TCP connection that never sent its ClientHello.
      for (const [name, open] of [
        ['partial headers over TLS', () => openTls(ports.https, NAME, caFile)],
        ['partial headers over plain HTTP', () => openTcp(ports.http)],
      ] as const) {
        const conn = keep(await open());
        await conn.write(`GET /ok HTTP/1.1\r\nHost: ${NAME}\r\nX-Slow: still typ`);
        idle.push(rawIdle(name, conn));
      }
      idle.push(rawIdle('TCP connection without a ClientHello', keep(await openTcp(ports.https))));

      // Idle keep-alive connections after one answered request.
      const tlsKeepAlive = keep(await openTls(ports.https, NAME, caFile));
      await ok(tlsKeepAlive);
      idle.push(rawIdle('idle keep-alive HTTP/1.1 over TLS', tlsKeepAlive));
      const plainKeepAlive = keep(await openTcp(ports.http));
      await ok(plainKeepAlive);
      idle.push(rawIdle('idle keep-alive plain HTTP', plainKeepAlive));
      const session = h2Session();
      await new Promise<void>((resolve, reject) => {
        const s = h2Get(session, '/ok');
        s.on('error', reject);
        s.resume().on('end', () => resolve());
      });
      idle.push(h2Idle('idle h2 session', session));

      // An idle WebSocket (upgraded, then silent).
      const ws = keep(await openTls(ports.https, NAME, caFile));
      await ws.write(head('GET /socket HTTP/1.1', `Host: ${NAME}`, 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='));
      await waitFor(() => ws.pending.toString('latin1').startsWith('HTTP/1.1 101') && ws.pending.includes('\r\n\r\n'), 5_000, 'the WebSocket upgrade');
      idle.push(rawIdle('idle WebSocket', ws));
      return idle;
    };

    const halfClosed = async (path: string): Promise<{ response: Promise<RawResponse> }> => {
      const pathname = new URL(path, 'http://x').pathname;
      const before = hits.get(pathname) ?? 0;
      const conn = keep(await openTls(ports.https, NAME, caFile));
      await conn.write(head(`GET ${path} HTTP/1.1`, `Host: ${NAME}`));
      conn.end();
      await waitFor(() => (hits.get(pathname) ?? 0) > before, 5_000, `${path} to reach the origin`);
      return { response: conn.response(15_000) };
    };

    return {
      origin: { hits: (path) => hits.get(path) ?? 0 },
      busyDay,
      halfClosed,
      download,
      terminate(killAfterMs) {
        return new Promise((resolve) => {
          const child = daemon.child;
          const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
          child.once('exit', (code) => {
            clearTimeout(timer);
            resolve({ code, at: performance.now() });
          });
          child.kill('SIGTERM');
        });
      },
      output: daemon.output,
      accessLog() {
        const path = join(dir, 'logs/access.ndjson');
        if (!existsSync(path)) return [];
        return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
