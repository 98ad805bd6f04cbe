// Leaf key type: new TLS connections per second with an RSA-2048 leaf against an ECDSA P-256
// leaf, and the cost of minting a leaf for a new name with each.
//
//   npx node bench/tls-leaf.ts [--seconds 5] [--clients 32] [--rounds 3] [--mints 500]
//
// The server is a child process (one Node thread, like sluice's TLS listener) that takes its
// leaf from the real leaf issuer through SNICallback and answers one request per connection
// with `Connection: close`, so every request is a new connection (TLS 1.3, X25519). Two
// servers: Node's https server (what sluice runs: TLS + HTTP parsing) and a bare TLS server
// (the handshake alone, the upper bound of any key-type difference). The load is h2load (C; it
// checks the handshake signature but no chain), pinned to another core than the server when
// there are two. Loopback only; every run is bounded in count and in time.
//
// Reported per configuration: the best handshakes/s over the rounds (other load on the machine
// only ever slows a round) and the lowest server CPU time per handshake (the figure that does
// not depend on how fast the client is). Resumed sessions skip the certificate signature, so
// the full-handshake runs disable tickets; one extra run shows the rate when clients resume.

import { fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { constants, createPrivateKey, sign } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { loadOrCreateCa } from '../src/tls/ca.ts';
import { createLeafIssuer } from '../src/tls/leaf-cache.ts';
import { generateLeafKey, mintLeafCertificate } from '../src/tls/leaf.ts';
import type { LeafKeyType } from '../src/tls/leaf.ts';

const NAME = 'api.example.com';
const KEY_TYPES: readonly LeafKeyType[] = ['rsa', 'ecdsa'];
const RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n';

/** full: every connection signs with the leaf key; resumed: clients may resume (no signature). */
type Mode = 'full' | 'resumed';
type ServerKind = 'https' | 'tls';

interface Scenario {
  keyType: LeafKeyType;
  mode: Mode;
  server: ServerKind;
}

interface ServerStats {
  handshakes: number;
  resumed: number;
  cpuMicros: number;
}

const label = (k: LeafKeyType) => (k === 'rsa' ? 'RSA-2048' : 'ECDSA P-256');
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

// ---- server child ---------------------------------------------------------------------------

async function serve(caDir: string, s: Scenario): Promise<void> {
  const { ca } = await loadOrCreateCa(caDir);
  const issuer = createLeafIssuer(ca, { keyType: s.keyType, cacheSize: 100 });
  await issuer.secureContextFor(NAME, true); // measure handshakes, not the first mint
  const options: tls.TlsOptions = {
    // h2load resumes sessions on reconnect. Without tickets, and with no session-cache
    // listeners, OpenSSL cannot resume, so every handshake is full.
    ...(s.mode === 'full' ? { secureOptions: constants.SSL_OP_NO_TICKET } : {}),
    SNICallback: (name, cb) => void issuer.secureContextFor(name, true).then((ctx) => cb(null, ctx), (err: Error) => cb(err)),
  };
  let handshakes = 0;
  let resumed = 0;
  const server = s.server === 'https'
    ? https.createServer(options, (_req, res) => {
      res.setHeader('connection', 'close');
      res.end('ok\n');
    })
    : tls.createServer(options, (socket) => {
      socket.on('error', () => {});
      socket.once('data', () => socket.end(RESPONSE));
    });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    handshakes++;
    if (socket.isSessionReused()) resumed++;
  });
  server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  process.on('message', (msg) => {
    if (msg === 'stats') {
      const cpu = process.cpuUsage();
      process.send?.({ handshakes, resumed, cpuMicros: cpu.user + cpu.system } satisfies ServerStats);
    } else if (msg === 'exit') {
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
}

// ---- process helpers ------------------------------------------------------------------------

function exec(argv: string[], timeoutMs: number): Promise<string> {
  const [cmd, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${argv.join(' ')}: exit ${code}\n${out}`));
    });
  });
}

function ask<T>(child: ChildProcess, msg: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not answer ${msg}`)), 10_000);
    child.once('message', (reply) => {
      clearTimeout(timer);
      resolve(reply as T);
    });
    child.send(msg);
  });
}

async function startServer(caDir: string, s: Scenario, core: number | undefined): Promise<{ child: ChildProcess; port: number }> {
  const args = ['--serve', s.keyType, '--mode', s.mode, '--server', s.server, '--ca-dir', caDir];
  const child = fork(new URL(import.meta.url).pathname, args, { stdio: 'inherit' });
  try {
    if (core !== undefined && child.pid !== undefined) await exec(['taskset', '-p', '-c', String(core), String(child.pid)], 5_000);
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('server did not start')), 15_000);
      child.once('message', (msg) => {
        clearTimeout(timer);
        resolve((msg as { port: number }).port);
      });
      child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
    return { child, port };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

async function stopServer(child: ChildProcess): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.send('exit');
  });
}

// ---- measurements ---------------------------------------------------------------------------

interface HandshakeResult extends Scenario {
  perSecond: number;
  serverCpuMicrosPerHandshake: number;
  resumedShare: number;
  failed: number;
}

async function measureHandshakes(caDir: string, s: Scenario, seconds: number, clients: number, cores: { server?: number; client?: number }): Promise<HandshakeResult> {
  const { child, port } = await startServer(caDir, s, cores.server);
  try {
    // Count-bounded runs (h2load's -D mode hangs when the server closes every connection),
    // sized from a warm-up so that the measured run lasts about `seconds`.
    const h2load = (requests: number) => [
      ...(cores.client === undefined ? [] : ['taskset', '-c', String(cores.client)]),
      'h2load', '--h1', '-t', '1', '-c', String(clients), '-n', String(requests), `--connect-to=127.0.0.1:${port}`, `https://${NAME}:${port}/`,
    ];
    const warmStart = performance.now();
    await exec(h2load(2000), 30_000); // also warms the JIT and allocator
    const requests = Math.max(clients, Math.round((2000 / ((performance.now() - warmStart) / 1000)) * seconds));
    const before = await ask<ServerStats>(child, 'stats');
    const started = performance.now();
    const out = await exec(h2load(requests), (seconds * 4 + 20) * 1000);
    const elapsed = (performance.now() - started) / 1000;
    const after = await ask<ServerStats>(child, 'stats');
    const done = /requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed/.exec(out);
    if (!done) throw new Error(`unexpected h2load output:\n${out}`);
    const handshakes = after.handshakes - before.handshakes;
    return {
      ...s,
      perSecond: handshakes / elapsed,
      serverCpuMicrosPerHandshake: (after.cpuMicros - before.cpuMicros) / handshakes,
      resumedShare: (after.resumed - before.resumed) / handshakes,
      failed: Number(done[1]),
    };
  } finally {
    await stopServer(child);
  }
}

interface MintResult {
  keyType: LeafKeyType;
  /** CPU time of one signature with the leaf key: what each full handshake's CertificateVerify costs. */
  handshakeSignMicros: number;
  keyGenerationMs: number;
  mintMeanMs: number;
  mintP50Ms: number;
  mintP99Ms: number;
  issuerNamesPerSecond: number;
}

/** A new name = one signature + one SecureContext: what the first handshake for it waits for. */
async function measureMint(caDir: string, keyType: LeafKeyType, count: number): Promise<MintResult> {
  const { ca } = await loadOrCreateCa(caDir);
  const t0 = performance.now();
  const key = await generateLeafKey(keyType);
  const keyGenerationMs = performance.now() - t0;
  const leafPrivateKey = createPrivateKey(key.privateKeyPem);
  const transcriptHash = Buffer.alloc(64, 1);
  for (let i = 0; i < 100; i++) sign('sha256', transcriptHash, leafPrivateKey);
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < 1000; i++) sign('sha256', transcriptHash, leafPrivateKey);
  const cpu = process.cpuUsage(cpu0);
  const handshakeSignMicros = (cpu.user + cpu.system) / 1000;
  const times: number[] = [];
  for (let i = 0; i < count + 50; i++) {
    const start = performance.now();
    const leaf = await mintLeafCertificate(ca, key, `n${i}.${keyType}.example.com`);
    tls.createSecureContext({ key: key.privateKeyPem, cert: leaf.certPem, minVersion: 'TLSv1.2' });
    if (i >= 50) times.push(performance.now() - start); // the first 50 warm the JIT
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
  // The issuer end to end, 10 new names at a time (as concurrent handshakes would ask).
  const issuer = createLeafIssuer(ca, { keyType, cacheSize: count });
  await issuer.secureContextFor('warm.example.com', true);
  const start = performance.now();
  for (let i = 0; i < count; i += 10) {
    await Promise.all(Array.from({ length: 10 }, (_, j) => issuer.secureContextFor(`t${i + j}.example.com`, true)));
  }
  return {
    keyType,
    handshakeSignMicros,
    keyGenerationMs,
    mintMeanMs: times.reduce((a, b) => a + b, 0) / times.length,
    mintP50Ms: at(0.5),
    mintP99Ms: at(0.99),
    issuerNamesPerSecond: count / ((performance.now() - start) / 1000),
  };
}

// ---- main -----------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      serve: { type: 'string' },
      mode: { type: 'string', default: 'full' },
      server: { type: 'string', default: 'https' },
      'ca-dir': { type: 'string' },
      seconds: { type: 'string', default: '5' },
      clients: { type: 'string', default: '32' },
      rounds: { type: 'string', default: '3' },
      mints: { type: 'string', default: '500' },
    },
  });
  if (values.serve !== undefined) {
    await serve(values['ca-dir']!, { keyType: values.serve as LeafKeyType, mode: values.mode as Mode, server: values.server as ServerKind });
    return;
  }
  const seconds = Math.min(Number(values.seconds), 30);
  const clients = Math.min(Number(values.clients), 256);
  const rounds = Math.min(Number(values.rounds), 5);
  const mints = Math.min(Number(values.mints), 5000);
  const cores = availableParallelism() >= 2 ? { server: 0, client: 1 } : {};
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-tls-'));
  const caDir = join(dir, 'ca');
  try {
    await loadOrCreateCa(caDir);
    const mint: MintResult[] = [];
    for (const keyType of KEY_TYPES) mint.push(await measureMint(caDir, keyType, mints));
    const full: HandshakeResult[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const server of ['https', 'tls'] as const) {
        for (const keyType of KEY_TYPES) full.push(await measureHandshakes(caDir, { keyType, mode: 'full', server }, seconds, clients, cores));
      }
    }
    const resumed: HandshakeResult[] = [];
    for (const keyType of KEY_TYPES) resumed.push(await measureHandshakes(caDir, { keyType, mode: 'resumed', server: 'https' }, seconds, clients, cores));

    console.log(`\nnode ${process.version} (OpenSSL ${process.versions.openssl}), ${availableParallelism()} cores, server on core ${cores.server ?? '-'}, ` +
      `h2load ${clients} clients on core ${cores.client ?? '-'}, ~${seconds} s × ${rounds} rounds, TLS 1.3 + X25519`);
    const fullResumed = Math.max(...full.map((h) => h.resumedShare));
    console.log(`\nnew TLS connections, full handshakes (resumed: ${fmt(fullResumed * 100, 1)}%)`);
    console.log('server  leaf          best handshakes/s  (rounds)                  server CPU per handshake');
    const verdicts: string[] = [];
    for (const server of ['https', 'tls'] as const) {
      const by = (k: LeafKeyType) => full.filter((h) => h.server === server && h.keyType === k);
      const bestRate = (k: LeafKeyType) => Math.max(...by(k).map((h) => h.perSecond));
      const minCpu = (k: LeafKeyType) => Math.min(...by(k).map((h) => h.serverCpuMicrosPerHandshake));
      for (const k of KEY_TYPES) {
        const rates = by(k).map((h) => fmt(h.perSecond)).join(', ');
        console.log(`${server.padEnd(6)}  ${label(k).padEnd(12)}  ${fmt(bestRate(k)).padStart(7)}  (${rates})`.padEnd(70) + `${fmt(minCpu(k))} µs`);
      }
      const rateRatio = bestRate('ecdsa') / bestRate('rsa');
      const cpuRatio = minCpu('rsa') / minCpu('ecdsa');
      console.log(`        ECDSA/RSA: ${fmt(rateRatio, 2)}× the handshakes/s, ${fmt(cpuRatio, 2)}× less server CPU per handshake`);
      verdicts.push(`${server}: ${cpuRatio >= 2 && rateRatio >= 2 ? 'at least' : 'less than'} twice as fast`);
    }
    console.log('\nwhen clients resume sessions (no certificate signature), https server');
    for (const h of resumed) {
      console.log(`        ${label(h.keyType).padEnd(12)}  ${fmt(h.perSecond).padStart(7)} handshakes/s, ${fmt(h.resumedShare * 100)}% resumed, ${fmt(h.serverCpuMicrosPerHandshake)} µs server CPU each`);
    }
    console.log(`\none signature with the leaf key (each full handshake makes one): ${mint.map((m) => `${label(m.keyType)} ${fmt(m.handshakeSignMicros)} µs`).join(', ')}`);
    console.log('\nminting a leaf for a new name (CA signature + SecureContext; the CA signs, so the leaf key type barely matters)');
    console.log('leaf          key generation (once)   mint mean / p50 / p99      issuer, 10 new names at a time');
    for (const m of mint) {
      console.log(`${label(m.keyType).padEnd(12)}  ${fmt(m.keyGenerationMs, 1).padStart(8)} ms`.padEnd(38) +
        `${fmt(m.mintMeanMs, 2)} / ${fmt(m.mintP50Ms, 2)} / ${fmt(m.mintP99Ms, 2)} ms`.padEnd(27) + `${fmt(m.issuerNamesPerSecond)} names/s`);
    }
    const failed = [...full, ...resumed].reduce((n, h) => n + h.failed, 0);
    if (failed > 0) console.log(`\nwarning: ${failed} requests failed during the runs`);
    console.log(`\nECDSA P-256 against RSA-2048: ${verdicts.join('; ')}`);
    const resultsDir = new URL('./results/', import.meta.url).pathname;
    await mkdir(resultsDir, { recursive: true });
    await writeFile(join(resultsDir, 'tls-leaf.json'),
      JSON.stringify({ date: new Date().toISOString(), node: process.version, seconds, clients, rounds, full, resumed, mint }, null, 2) + '\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
