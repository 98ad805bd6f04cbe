// The servers of the fake internet, run as one process inside its namespace:
//   - origins: HTTPS (443) and HTTP (80) on the allowlisted names' addresses; GET /hello echoes
//     what the origin saw, /git/… serves a bare repository for git's dumb HTTP protocol;
//   - the canary: TLS, plain TCP and UDP listeners on an address only bypass attempts would use,
//     so that a probe from the exempt uid completes (proving the path works).
// Every connection, request and datagram is appended to a JSON-lines record file.
// Usage: node fake-origin.ts CONFIG.json   (prints "ready" once every listener is bound)
import { appendFileSync, createReadStream, readFileSync, statSync } from 'node:fs';
import dgram from 'node:dgram';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { join, normalize } from 'node:path';

export interface FakeOriginConfig {
  record: string;
  origins: string[];
  canaries: string[];
  canaryTcpPorts: number[];
  canaryUdpPorts: number[];
  originCert: { cert: string; key: string };
  canaryCert: { cert: string; key: string };
  gitRoot: string;
}

const config = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as FakeOriginConfig;
const record = (entry: Record<string, unknown>): void => {
  appendFileSync(config.record, `${JSON.stringify({ time: Date.now(), ...entry })}\n`);
};

function serveGit(res: http.ServerResponse, path: string): void {
  const file = normalize(join(config.gitRoot, path.slice('/git/'.length)));
  if (!file.startsWith(config.gitRoot)) {
    res.writeHead(403).end();
    return;
  }
  try {
    if (!statSync(file).isFile()) throw new Error('not a file');
  } catch {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  createReadStream(file).pipe(res);
}

function originHandler(scheme: string) {
  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const sni = (req.socket as tls.TLSSocket).servername || undefined;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    record({ kind: 'request', scheme, local: req.socket.localAddress, host: req.headers.host, sni, method: req.method, path, authorization: req.headers.authorization });
    if (path.startsWith('/git/')) {
      serveGit(res, path);
      return;
    }
    const body = JSON.stringify({ origin: 'fake', scheme, host: req.headers.host, sni, path });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
}

function listen(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve());
  });
}

function bindUdp(host: string, port: number): Promise<void> {
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  socket.on('message', (msg, rinfo) => {
    record({ kind: 'udp', local: host, port, from: rinfo.address, bytes: msg.length });
    socket.send('canary\n', rinfo.port, rinfo.address);
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => resolve());
  });
}

const origin = { cert: readFileSync(config.originCert.cert), key: readFileSync(config.originCert.key) };
const canary = { cert: readFileSync(config.canaryCert.cert), key: readFileSync(config.canaryCert.key) };
const pending: Promise<void>[] = [];
for (const host of config.origins) {
  pending.push(listen(https.createServer(origin, originHandler('https')), host, 443));
  pending.push(listen(http.createServer(originHandler('http')), host, 80));
}
for (const host of config.canaries) {
  for (const port of config.canaryTcpPorts) {
    const onConnection = (socket: net.Socket): void => {
      record({ kind: 'tcp', local: host, port, from: socket.remoteAddress });
      socket.on('error', () => {});
      socket.end('canary\n');
    };
    const server = port === 443
      ? tls.createServer(canary, onConnection)
      : net.createServer(onConnection);
    pending.push(listen(server, host, port));
  }
  for (const port of config.canaryUdpPorts) pending.push(bindUdp(host, port));
}
await Promise.all(pending);
process.stdout.write('ready\n');
