// The two LLM targets of issue 14, measured with the LLM log on: the time to the first SSE event
// (+≤ 1 ms over direct) and 100 concurrent streaming calls without sluice's event loop lagging
// more than 10 ms. A fake Anthropic origin (test/helpers/llm-origin.ts: the real wire format,
// byte for byte) sends a real tool-use SSE stream (one event every 10 ms in the streams timed one
// at a time, every 20 ms in the 100 concurrent calls); clients time each event's arrival
// directly and through sluice. The first event is timed on a fresh process's first calls and
// again after 300 calls through it: V8 compiles a path only once it has run often, and a
// sidecar spends its life past that point (as the main bench warms up before its keep-alive
// test). sluice runs as its own process (`sluice run` of the bundle, laid out as the image
// installs it; pinned to a core when asked), so the lag is sluice's own: read from its /metrics
// (sluice_event_loop_lag_p99_seconds and _max_seconds, since the previous scrape). Beside it, as
// in the main bench, node-floor (bench/peers/node-floor-server.ts: a Node https server handing
// each request to undici, no policy, no log) on the same core: what any out-of-process Node
// forwarder adds. And nginx as a TLS-terminating reverse proxy (upstream keep-alive, response
// buffering off, the origin's certificate verified), on the same core, for the single streams:
// what a proxy written in C adds on this machine: a bar that nginx meets and Node does not is
// Node's, not the machine's.
// Loopback only; every wait is bounded.
//
// `npm run bench` runs it after the peers; alone: npx node bench/llm-stream.ts [--cpu N] [-- NODE_OPTIONS_FOR_SLUICE…]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { createTestPki, type TestPki } from '../test/helpers/pki.ts';
import { startDnsmasq } from '../test/helpers/dnsmasq.ts';
import { startLlmOrigin, type LlmOrigin } from '../test/helpers/llm-origin.ts';
import { freePort } from '../test/helpers/ports.ts';
import { run } from './exec.ts';
import { renderLlmStreams } from './report.ts';
import { SLUICE_ENV, SLUICE_NODE_FLAGS } from './peers/sluice.ts';
import { fillSluiceCompileCache, stageInstalledApp } from './peers/installed-app.ts';

const ORIGIN_ADDRESS = '127.0.0.7';
const HOST = 'api.anthropic.com';
/** Between events in the concurrent calls (a model's token stream). */
const INTERVAL_MS = 20;
/** Between events in the streams timed one at a time: only their first event and the gaps count, and the bench has 3 minutes. */
const SINGLE_INTERVAL_MS = 10;

export interface LlmStreamOptions {
  repoRoot: string;
  /** Core to pin sluice to (taskset), as the bench pins its peers. */
  cpu?: string;
  /** Streams measured one at a time, each way, after the warm-up. */
  rounds?: number;
  /** Streams measured one at a time, each way, before the warm-up (a fresh process). */
  freshRounds?: number;
  /** Streaming calls through each Node process (sluice, node-floor) before `rounds` are measured (V8 compiles what runs often). */
  warmCalls?: number;
  /** Streaming calls at once through sluice for the lag figure. */
  concurrent?: number;
  /** Streams each of the concurrent calls makes in a row (the lag window's length). */
  streamsPerCall?: number;
  /** Node options for sluice's process (experiments: `npx node bench/llm-stream.ts -- --flag`). */
  nodeFlags?: string[];
}

export interface Spread {
  median: number;
  p99: number;
}

type Way = keyof ByPath<unknown>;
interface Path {
  /** The client's trust. */
  ca: string;
  /** The address it dials. */
  address: string;
  port: number;
}

/** One figure for each way to the origin. */
export interface ByPath<T> {
  direct: T;
  sluice: T;
  nodeFloor: T;
  /** NaN figures when nginx is not installed (the bench's own run requires it). */
  nginx: T;
}

export interface LlmStreamResult {
  rounds: number;
  /** Between events in the concurrent calls (ms). */
  intervalMs: number;
  /** Between events in the streams timed one at a time (ms). */
  singleIntervalMs: number;
  /** Streaming calls through each Node process between the fresh and the measured rounds. */
  warmCalls: number;
  /** As firstEvent, for the first calls of a fresh process, before the warm-up. */
  firstEventFresh: ByPath<number>;
  /** Request sent → first event whole at the client, on a kept-alive connection, after the warm-up (median, ms). */
  firstEvent: ByPath<number>;
  /** The same on a new connection for each stream (TLS handshakes included: through a proxy, two). */
  firstEventNewConnection: ByPath<number>;
  /** Origin writes an event → the client has it whole, every event but the first (ms). */
  eventDelay: ByPath<Spread>;
  concurrent: {
    calls: number;
    streamsPerCall: number;
    sluice: ConcurrentCalls;
    nodeFloor: ConcurrentCalls;
  };
}

/** `calls` streaming calls at once through one proxy. */
export interface ConcurrentCalls {
  /** Origin write → client has the event, over every event of every call (ms). */
  eventDelay: Spread;
  /** The proxy's event-loop lag while the calls streamed (ms beyond its 10 ms sampling interval). */
  lagP99Ms: number;
  lagMaxMs: number;
  /** Streams that failed or brought no event. */
  failed: number;
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;
const p99 = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(v.length * 0.99))] ?? NaN;
const spread = (v: number[]): Spread => ({ median: median(v), p99: p99(v) });

function dispatcherTo(ca: string, address: string, connections = 1): Agent {
  return new Agent({
    connections,
    connect: { ca, lookup: (_h: string, _o: unknown, cb: (e: null, a: { address: string; family: number }[]) => void) => cb(null, [{ address, family: 4 }]) } as never,
  });
}

interface Timed {
  /** Request sent → first event whole (ms). */
  firstEventMs: number;
  /** Origin write → client has it, per event (ms). */
  delays: number[];
  events: number;
}

/**
 * One streaming call; event arrival times against the origin's write times for `label`. With
 * `firstOnly` the call is abandoned once its first event is in (its connection with it).
 */
async function stream(origin: LlmOrigin, dispatcher: Agent, port: number, label: string, firstOnly = false, intervalMs = SINGLE_INTERVAL_MS): Promise<Timed> {
  const started = performance.now();
  const res = await request(`https://${HOST}:${port}/v1/messages`, {
    method: 'POST',
    dispatcher,
    headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-bench', 'x-test-fixture': 'anthropic-tool-use.sse', 'x-test-interval-ms': String(intervalMs), 'x-test-run': label },
    body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'timing' }] }),
  });
  if (res.statusCode !== 200) throw new Error(`${label}: status ${res.statusCode}: ${(await res.body.text()).slice(0, 300)}`);
  const arrivals: number[] = [];
  let carry = '';
  let complete = 0;
  for await (const chunk of res.body) {
    // Count event ends ("\n\n") in the new bytes only (plus a carried "\n"): re-splitting the
    // whole text each time made the clients' own work quadratic in the stream's length.
    const joined = carry + (chunk as Buffer).toString('utf8');
    complete += joined.split('\n\n').length - 1;
    carry = joined.endsWith('\n') && !joined.endsWith('\n\n') ? '\n' : '';
    while (arrivals.length < complete) arrivals.push(performance.now());
    if (firstOnly && complete > 0) break;
  }
  const sent = origin.eventTimes.get(label) ?? [];
  return { firstEventMs: (arrivals[0] ?? NaN) - started, delays: arrivals.map((at, i) => at - (sent[i] as number)), events: arrivals.length };
}

const WARM_CALLS = 300;
const WARM_CONCURRENCY = 20;

/** `calls` streaming calls through `path`, `WARM_CONCURRENCY` at a time, an event a millisecond. */
async function warmUp(origin: LlmOrigin, path: Path, calls: number): Promise<void> {
  const dispatcher = dispatcherTo(path.ca, path.address, WARM_CONCURRENCY);
  let next = 0;
  const one = async (): Promise<void> => {
    while (next < calls) {
      next++;
      const res = await request(`https://${HOST}:${path.port}/v1/messages`, {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-bench', 'x-test-fixture': 'anthropic-tool-use.sse', 'x-test-interval-ms': '1', 'x-test-run': 'warm-up' },
        body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'warm-up' }] }),
      });
      await res.body.text();
    }
  };
  try {
    await Promise.all(Array.from({ length: WARM_CONCURRENCY }, one));
  } finally {
    await dispatcher.destroy();
  }
  origin.received.length = 0;
  origin.sent.length = 0;
  origin.eventTimes.delete('warm-up');
}

const pinned = (cpu: string | undefined, argv: string[]): string[] => (cpu === undefined ? argv : ['taskset', '-c', cpu, ...argv]);

interface ChildServer {
  port: number;
  /** How many characters it has written to stderr so far, and what it wrote since such a mark. */
  mark(): number;
  since(mark: number): string;
  signal(name: NodeJS.Signals): void;
  stop(): Promise<void>;
}

/** Spawns `argv` and waits (≤ 15 s) for `ready` in its stderr; stop() ends it (SIGTERM, then SIGKILL). */
async function spawnServer(argv: string[], ready: string, port: number, env: Record<string, string> = {}): Promise<ChildServer & { child: ChildProcess }> {
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_ENV: 'production', ...env } });
  let output = '';
  let written = 0;
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    output = (output + d).slice(-4000);
    written += d.length;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A bench that dies or is interrupted must not leave it running.
  const orphan = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', orphan);
  void exited.then(() => process.removeListener('exit', orphan));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 15_000;
  while (!output.includes(ready)) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${argv.join(' ')} exited during start-up:\n${output}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${argv.join(' ')} not ready in 15 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const since = (mark: number): string => output.slice(Math.max(0, output.length - (written - mark)));
  return { child, port, mark: () => written, since, signal: (name) => child.kill(name), stop };
}

/** node-floor's event-loop lag since the previous call (SIGUSR2; bench/peers/node-floor-server.ts). */
async function floorLag(floor: ChildServer): Promise<{ p99: number; max: number }> {
  const mark = floor.mark();
  floor.signal('SIGUSR2');
  const deadline = Date.now() + 5_000;
  for (;;) {
    const m = /node-floor: lag p99 (\S+) max (\S+)\n/.exec(floor.since(mark));
    if (m !== null) return { p99: Number(m[1]), max: Number(m[2]) };
    if (Date.now() > deadline) throw new Error('node-floor did not report its event-loop lag');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** node-floor towards the origin, serving a certificate for HOST from the origin's own CA. */
async function startNodeFloor(options: LlmStreamOptions, dir: string, pki: TestPki, originPort: number): Promise<ChildServer> {
  const floorDir = join(dir, 'node-floor');
  await mkdir(floorDir);
  const leaf = await pki.issue([HOST], 'node-floor');
  await copyFile(pki.caCert, join(floorDir, 'test-ca.crt'));
  await copyFile(leaf.cert, join(floorDir, 'origin.crt'));
  await copyFile(leaf.key, join(floorDir, 'origin.key'));
  const port = await freePort();
  const server = join(options.repoRoot, 'bench', 'peers', 'node-floor-server.ts');
  const argv = [process.execPath, server, floorDir, String(port), `${ORIGIN_ADDRESS}:${originPort}`, HOST];
  // Started as sluice is, from a filled compile cache (bench/peers/peer-process.ts): a fresh
  // process's first calls would otherwise include Node's type stripping of the server.
  const env = { NODE_COMPILE_CACHE: join(floorDir, 'compile-cache') };
  await run([...argv, '--compile-only'], { env: { ...process.env, ...env }, timeoutMs: 30_000 });
  return spawnServer(pinned(options.cpu, argv), 'node-floor: listening', port, env);
}

/**
 * nginx in front of the origin, serving a certificate for HOST from the origin's own CA: one
 * process (no master), pinned like the other proxies, a kept-alive and verified upstream, SSE
 * passed on as it comes (proxy_buffering off). undefined when there is no nginx to run.
 */
async function startNginx(options: LlmStreamOptions, dir: string, pki: TestPki, originPort: number): Promise<ChildServer | undefined> {
  const nginxDir = join(dir, 'nginx');
  await mkdir(join(nginxDir, 'tmp'), { recursive: true });
  const leaf = await pki.issue([HOST], 'nginx');
  const port = await freePort();
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `${k}_temp_path ${join(nginxDir, 'tmp', k)};`).join(' ');
  await writeFile(join(nginxDir, 'nginx.conf'), `worker_processes 1; daemon off; master_process off;
pid ${join(nginxDir, 'nginx.pid')}; error_log stderr notice;
events { worker_connections 1024; }
http {
  access_log off; ${temp}
  upstream origin { server ${ORIGIN_ADDRESS}:${originPort}; keepalive 256; }
  server {
    listen 127.0.0.1:${port} ssl; server_name ${HOST};
    ssl_certificate ${leaf.cert}; ssl_certificate_key ${leaf.key};
    keepalive_timeout 600s; keepalive_requests 100000;
    location / {
      proxy_pass https://origin; proxy_http_version 1.1;
      proxy_set_header Connection ""; proxy_set_header Host ${HOST};
      proxy_buffering off; proxy_request_buffering off;
      proxy_ssl_server_name on; proxy_ssl_name ${HOST}; proxy_ssl_session_reuse on;
      proxy_ssl_verify on; proxy_ssl_trusted_certificate ${pki.caCert};
    }
  }
}
`);
  if (spawnSync('nginx', ['-v']).error !== undefined) return undefined;
  // Printed once the configuration is read and the listening socket open.
  return spawnServer(pinned(options.cpu, ['nginx', '-e', 'stderr', '-p', nginxDir, '-c', join(nginxDir, 'nginx.conf')]), 'getrlimit(RLIMIT_NOFILE)', port);
}

interface SluiceProcess {
  child: ChildProcess;
  httpsPort: number;
  adminPort: number;
  caCert: string;
  stop(): Promise<void>;
}

async function startSluiceProcess(options: LlmStreamOptions, dir: string, originPort: number, originCa: string, dns: string): Promise<SluiceProcess> {
  const [httpsPort, httpPort, denyPort, dnsPort, adminPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const config = join(dir, 'sluice.toml');
  await writeFile(config, `[proxy]
agent = "bench-llm"
ca_dir = "${join(dir, 'certs')}"
log_dir = "${join(dir, 'logs')}"
extra_upstream_ca = "${originCa}"
https_port = ${httpsPort}
http_port = ${httpPort}
deny_port = ${denyPort}
dns_port = ${dnsPort}
admin_port = ${adminPort}

[upstream]
https_port = ${originPort}

[dns]
upstream = "${dns}"

[[allow]]
host = "${HOST}"
llm = "anthropic"
private = true
`);
  // The bundle, laid out as the image installs it, its compile cache filled as the image's build does.
  const bin = await fillSluiceCompileCache(await stageInstalledApp(options.repoRoot, dir));
  const { child, stop } = await spawnServer(pinned(options.cpu, [process.execPath, ...SLUICE_NODE_FLAGS, ...(options.nodeFlags ?? []), bin, 'run', '-c', config]), 'sluice: listening on', httpsPort, { ...SLUICE_ENV });
  return { child, httpsPort, adminPort, caCert: await readFile(join(dir, 'certs', 'ca.crt'), 'utf8'), stop };
}

/** sluice's event-loop lag since the previous scrape, ms: p99 and max. */
async function scrapeLag(adminPort: number): Promise<{ p99: number; max: number }> {
  const res = await request(`http://127.0.0.1:${adminPort}/metrics`);
  const text = await res.body.text();
  const gauge = (name: string): number => {
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    if (m?.[1] === undefined) throw new Error(`/metrics has no ${name}`);
    return Number(m[1]) * 1000;
  };
  return { p99: gauge('sluice_event_loop_lag_p99_seconds'), max: gauge('sluice_event_loop_lag_max_seconds') };
}

export async function measureLlmStreams(options: LlmStreamOptions): Promise<LlmStreamResult> {
  const rounds = options.rounds ?? 5;
  const freshRounds = options.freshRounds ?? 3;
  const warmCalls = options.warmCalls ?? WARM_CALLS;
  const calls = options.concurrent ?? 100;
  const streamsPerCall = options.streamsPerCall ?? 3;
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-llm-'));
  const pki = await createTestPki();
  const origin = await startLlmOrigin(await pki.issue([HOST]), ORIGIN_ADDRESS);
  const dns = await startDnsmasq({ [HOST]: [ORIGIN_ADDRESS] });
  const originCa = await readFile(pki.caCert, 'utf8');
  let sluice: SluiceProcess | undefined;
  let floor: ChildServer | undefined;
  let nginx: ChildServer | undefined;
  const dispatchers: Agent[] = [];
  const open = (ca: string, address: string): Agent => {
    const d = dispatcherTo(ca, address);
    dispatchers.push(d);
    return d;
  };
  try {
    sluice = await startSluiceProcess(options, dir, origin.port, pki.caCert, dns.address);
    floor = await startNodeFloor(options, dir, pki, origin.port);
    nginx = await startNginx(options, dir, pki, origin.port);
    const s = sluice;
    // Each way to the origin: the client's trust, the address it dials, the port.
    const paths: Partial<Record<Way, Path>> = {
      direct: { ca: originCa, address: ORIGIN_ADDRESS, port: origin.port },
      sluice: { ca: s.caCert, address: '127.0.0.1', port: s.httpsPort },
      nodeFloor: { ca: originCa, address: '127.0.0.1', port: floor.port },
    };
    if (nginx !== undefined) paths.nginx = { ca: originCa, address: '127.0.0.1', port: nginx.port };
    const names = Object.keys(paths) as Way[];
    const pathOf = (name: Way): Path => paths[name] as Path;
    const perPath = <T>(make: () => T): ByPath<T> => ({ direct: make(), sluice: make(), nodeFloor: make(), nginx: make() });

    // Streams on a connection kept alive (warmed once first, on both legs: a proxy keeps its
    // upstream connection as the client keeps its own), then a new connection per stream,
    // abandoned once its first event is in. In that order: an abandoned stream ends its proxy's
    // upstream connection too, and the next kept-alive stream would pay for a new one. The ways
    // take turns, so that each sees the same machine.
    const cold = perPath<number[]>(() => []);
    const warm = perPath<number[]>(() => []);
    const delays = perPath<number[]>(() => []);
    const kept = perPath(() => undefined as Agent | undefined);
    const fresh = perPath<number[]>(() => []);
    for (const name of names) {
      const agent = open(pathOf(name).ca, pathOf(name).address);
      kept[name] = agent;
      await stream(origin, agent, pathOf(name).port, `warm-${name}`);
    }
    // The first calls of a fresh process: its request path not yet compiled by V8's JIT.
    for (let i = 0; i < freshRounds; i++) {
      for (const name of names) fresh[name].push((await stream(origin, kept[name] as Agent, pathOf(name).port, `fresh-${name}-${i}`)).firstEventMs);
    }
    // Then what a sidecar is for the rest of its life: its LLM path run often enough for V8 to
    // have compiled it (fresh, node-floor and sluice added ~2.4 ms to the first event where
    // nginx added ~0.5). The same calls through each Node process, 20 at once, on connections
    // of their own; the client's and the origin's code (this process) warm up with them, and
    // nginx has no compiler to wait for.
    for (const name of ['sluice', 'nodeFloor'] as const) await warmUp(origin, pathOf(name), warmCalls);
    for (let i = 0; i < rounds; i++) {
      for (const name of names) {
        const w = await stream(origin, kept[name] as Agent, pathOf(name).port, `warm-${name}-${i}`);
        warm[name].push(w.firstEventMs);
        delays[name].push(...w.delays.slice(1));
      }
    }
    for (let i = 0; i < rounds; i++) {
      for (const name of names) {
        const { ca, address, port } = pathOf(name);
        const c = await stream(origin, open(ca, address), port, `cold-${name}-${i}`, true);
        cold[name].push(c.firstEventMs);
      }
    }

    // `calls` clients, each on its own connection, connected and warmed first (so the window
    // holds streaming only, not 2 × `calls` TLS handshakes), then all streaming at once; through
    // sluice, then through node-floor for its floor.
    const concurrent = async (name: 'sluice' | 'nodeFloor', lag: () => Promise<{ p99: number; max: number }>): Promise<ConcurrentCalls> => {
      const { ca, address, port } = pathOf(name);
      const clients = Array.from({ length: calls }, () => open(ca, address));
      await Promise.all(clients.map((d, i) => stream(origin, d, port, `many-warm-${name}-${i}`)));
      await lag(); // starts the window
      let failed = 0;
      const many = await Promise.all(clients.map(async (d, i) => {
        const out: number[] = [];
        for (let k = 0; k < streamsPerCall; k++) {
          try {
            const r = await stream(origin, d, port, `many-${name}-${i}-${k}`, false, INTERVAL_MS);
            if (r.events === 0) failed++;
            out.push(...r.delays.slice(1));
          } catch {
            failed++;
          }
        }
        return out;
      }));
      const window = await lag();
      await Promise.all(clients.map((d) => d.close()));
      return { eventDelay: spread(many.flat()), lagP99Ms: window.p99, lagMaxMs: window.max, failed };
    };
    const f = floor;
    const sluiceCalls = await concurrent('sluice', () => scrapeLag(s.adminPort));
    const floorCalls = await concurrent('nodeFloor', () => floorLag(f));
    return {
      rounds,
      intervalMs: INTERVAL_MS,
      singleIntervalMs: SINGLE_INTERVAL_MS,
      warmCalls,
      firstEventFresh: { direct: median(fresh.direct), sluice: median(fresh.sluice), nodeFloor: median(fresh.nodeFloor), nginx: median(fresh.nginx) },
      firstEvent: { direct: median(warm.direct), sluice: median(warm.sluice), nodeFloor: median(warm.nodeFloor), nginx: median(warm.nginx) },
      firstEventNewConnection: { direct: median(cold.direct), sluice: median(cold.sluice), nodeFloor: median(cold.nodeFloor), nginx: median(cold.nginx) },
      eventDelay: { direct: spread(delays.direct), sluice: spread(delays.sluice), nodeFloor: spread(delays.nodeFloor), nginx: spread(delays.nginx) },
      concurrent: { calls, streamsPerCall, sluice: sluiceCalls, nodeFloor: floorCalls },
    };
  } finally {
    await Promise.all(dispatchers.map((d) => d.destroy().catch(() => undefined)));
    await sluice?.stop();
    await floor?.stop();
    await nginx?.stop();
    await origin.stop();
    await dns.stop();
    await rm(pki.dir, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({ options: { cpu: { type: 'string' } }, allowPositionals: true });
  const result = await measureLlmStreams({ repoRoot: dirname(dirname(fileURLToPath(import.meta.url))), cpu: values.cpu, nodeFlags: positionals });
  console.log(renderLlmStreams(result).join('\n'));
}
