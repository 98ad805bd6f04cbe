// What an upstream HTTP/1.1 client costs per request in Node: undici (what sluice and
// node-floor use) against a raw TLS client that writes a fixed GET and finds each response's
// end from its Content-Length (the least any client does), and Node's own https client.
//
//   npx node bench/http-client-cost.ts [--seconds 4] [--rounds 2] [--connections 32]
//
// A Node https server on loopback answers every GET with 1 KiB (its own process, pinned to
// CPU 0); each client runs in a process of its own pinned to CPU 1, keeps `--connections`
// keep-alive connections busy for `--seconds`, and reports its own CPU time per request, which
// does not depend on how fast the server is. The clients take turns, `--rounds` times. Loopback
// only; bounded in time.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Pool as UndiciPool } from 'undici';
import { run } from './exec.ts';

const SCRIPT = fileURLToPath(import.meta.url);
const BODY = Buffer.alloc(1024, 'x');
const CLIENTS = ['undici', 'raw-tls', 'node-https'] as const;
type ClientKind = (typeof CLIENTS)[number];

interface ClientResult {
  client: ClientKind;
  requests: number;
  cpuUsPerRequest: number;
}

/** The origin: answers every request with BODY; prints its port. */
async function serve(dir: string): Promise<void> {
  const server = https.createServer({ cert: await readFile(join(dir, 'c.pem')), key: await readFile(join(dir, 'k.pem')) }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
    res.end(BODY);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${(server.address() as AddressInfo).port}\n`));
}

/** One client kind for `seconds`: `connections` request loops, each on a kept-alive connection. */
async function client(kind: ClientKind, dir: string, port: number, connections: number, seconds: number): Promise<ClientResult> {
  const ca = await readFile(join(dir, 'c.pem'));
  const endAt = Date.now() + seconds * 1000;
  let requests = 0;
  const cpuBefore = process.cpuUsage();
  const loops: Array<Promise<void>> = [];
  /** `connections` loops, each sending the next request when its last one has been answered. */
  const keepBusy = async (one: () => Promise<void>): Promise<void> => {
    for (let i = 0; i < connections; i++) loops.push((async () => { while (Date.now() < endAt) { await one(); requests++; } })());
    await Promise.all(loops);
  };
  if (kind === 'undici') {
    // Loaded as sluice loads it (src/upstream/origin-pools.ts).
    const Pool = createRequire(import.meta.url)('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
    const pool = new Pool(`https://localhost:${port}`, { connections, connect: { ca, servername: 'localhost' } });
    const one = (): Promise<void> => new Promise((resolve, reject) => {
      pool.dispatch({ path: '/', method: 'GET', headers: { host: 'localhost', accept: '*/*' } }, {
        onRequestStart() {},
        onResponseStart() {},
        onResponseData() {},
        onResponseEnd: () => resolve(),
        onResponseError: (_c, err) => reject(err),
      });
    });
    await keepBusy(one);
    await pool.close();
  } else if (kind === 'node-https') {
    const agent = new https.Agent({ keepAlive: true, maxSockets: connections, ca, servername: 'localhost' });
    const one = (): Promise<void> => new Promise((resolve, reject) => {
      https.get({ host: '127.0.0.1', port, path: '/', agent, headers: { host: 'localhost', accept: '*/*' } }, (res) => {
        res.on('data', () => {});
        res.on('end', resolve);
      }).on('error', reject);
    });
    await keepBusy(one);
    agent.destroy();
  } else {
    const request = Buffer.from('GET / HTTP/1.1\r\nhost: localhost\r\naccept: */*\r\n\r\n');
    for (let i = 0; i < connections; i++) {
      loops.push(new Promise<void>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca });
        let head = '';
        let remaining = -1;
        socket.on('secureConnect', () => socket.write(request));
        socket.on('error', reject);
        socket.on('data', (chunk: Buffer) => {
          if (remaining < 0) {
            head += chunk.toString('latin1');
            const end = head.indexOf('\r\n\r\n');
            if (end < 0) return;
            const length = /content-length: *(\d+)/i.exec(head.slice(0, end));
            if (length === null) return reject(new Error('response without Content-Length'));
            remaining = Number(length[1]) - (head.length - end - 4);
            head = '';
          } else {
            remaining -= chunk.length;
          }
          if (remaining > 0) return;
          requests++;
          remaining = -1;
          if (Date.now() < endAt) socket.write(request);
          else {
            socket.end();
            resolve();
          }
        });
      }));
    }
    await Promise.all(loops);
  }
  const cpu = process.cpuUsage(cpuBefore);
  return { client: kind, requests, cpuUsPerRequest: (cpu.user + cpu.system) / requests };
}

function pinned(cpu: string, argv: string[]): string[] {
  return availableParallelism() >= 2 ? ['taskset', '-c', cpu, ...argv] : argv;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '4' },
      rounds: { type: 'string', default: '2' },
      connections: { type: 'string', default: '32' },
      serve: { type: 'string' },
      client: { type: 'string' },
      dir: { type: 'string' },
      port: { type: 'string' },
    },
  });
  if (values.serve !== undefined) return serve(values.serve);
  if (values.client !== undefined) {
    const result = await client(values.client as ClientKind, values.dir as string, Number(values.port), Number(values.connections), Number(values.seconds));
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'sluice-client-cost-'));
  let origin: ChildProcess | undefined;
  try {
    await run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'),
      '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost']);
    const [cmd, ...args] = pinned('0', [process.execPath, SCRIPT, '--serve', dir]);
    origin = spawn(cmd as string, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<string>((resolve, reject) => {
      origin?.stdout?.setEncoding('utf8').on('data', (d: string) => {
        const m = /port (\d+)/.exec(d);
        if (m !== null) resolve(m[1] as string);
      });
      origin?.once('exit', () => reject(new Error('the origin exited')));
    });
    console.log(`| round | client | requests | client CPU µs per request |\n|---|---|---:|---:|`);
    for (let round = 1; round <= Number(values.rounds); round++) {
      for (const kind of CLIENTS) {
        const r = await run(pinned('1', [process.execPath, SCRIPT, '--client', kind, '--dir', dir, '--port', port, '--connections', values.connections, '--seconds', values.seconds]),
          { timeoutMs: (Number(values.seconds) + 20) * 1000 });
        const result = JSON.parse(r.stdout.trim()) as ClientResult;
        console.log(`| ${round} | ${result.client} | ${result.requests.toLocaleString('en-US')} | ${result.cpuUsPerRequest.toFixed(1)} |`);
      }
    }
  } finally {
    origin?.kill();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
