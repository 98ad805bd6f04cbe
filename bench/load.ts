// Load tools and their output: wrk for throughput, latency and new-connection rate, curl for
// the large download and for probing that a peer is really in the path. Every tool runs in
// the client namespace as the load uid (so the capture applies to it) on the load core.
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TICKS_PER_SECOND, treeCpuTicks } from './cpu-contention.ts';
import { CLIENT_NS, ORIGIN_NAME } from './netns.ts';
import { nsExec, run } from './exec.ts';

const NO_RESUME_SOURCE = fileURLToPath(new URL('./no-resume.c', import.meta.url));

export interface LoadContext {
  /** The uid the load tools run as: not exempted, so its tcp/443 is captured. */
  uid: number;
  /** CPU list the load tools are pinned to. */
  cpu: string;
  /** Folder used as HOME for the tools. */
  home: string;
  /** The no-resume.so shim (see buildNoResumeShim). */
  noResumeShim: string;
  /** Requests the origin has served so far (nginx stub_status): checks that a rate was proxied. */
  originRequests?: () => Promise<number>;
}

/**
 * Compiles bench/no-resume.c into `dir`: preloaded into wrk for the new-connections test so
 * that every reconnect is a full TLS handshake (the C file says why wrk needs it).
 */
export async function buildNoResumeShim(dir: string): Promise<string> {
  const out = join(dir, 'no-resume.so');
  await run(['gcc', '-shared', '-fPIC', '-O2', '-Wall', '-o', out, NO_RESUME_SOURCE, '-ldl'], { timeoutMs: 30_000 });
  await chmod(out, 0o755);
  return out;
}

export interface WrkResult {
  requestsPerSec: number;
  requests: number;
  /** Latency percentiles in milliseconds (only with --latency). */
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  socketErrors: number;
  non2xx: number;
  /** CPU the peer's process tree used during the timed run, in cores (1.0 = a whole core). */
  peerCores?: number;
  /** Bytes wrk read in the timed run (headers and bodies). */
  bytesRead?: number;
  /**
   * Requests the origin served during the timed run. A proxy that forwards every request shows
   * about as many as wrk counted; far fewer means wrk's rate was not a proxied one.
   */
  originRequests?: number;
}

const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function parseDurationMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (m === null || m[1] === undefined || m[2] === undefined) throw new Error(`wrk: unparsable duration "${text}"`);
  const unit = UNIT_MS[m[2]];
  if (unit === undefined) throw new Error(`wrk: unknown unit in "${text}"`);
  return Number(m[1]) * unit;
}

/** Parses wrk 4.x text output. Exported for the unit test. */
export function parseWrk(output: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const total = /(\d+) requests in /.exec(output);
  if (rps?.[1] === undefined || total?.[1] === undefined) throw new Error(`wrk: no result in output:\n${output}`);
  const percentile = (p: string): number | undefined => {
    const m = new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm').exec(output);
    return m?.[1] === undefined ? undefined : parseDurationMs(m[1]);
  };
  let socketErrors = 0;
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  if (errors !== null) socketErrors = errors.slice(1).reduce((sum, n) => sum + Number(n), 0);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  const read = /requests in [\d.]+\w+, ([\d.]+)([KMGT]?B) read/.exec(output);
  return {
    bytesRead: read?.[1] === undefined || read[2] === undefined ? undefined : Math.round(Number(read[1]) * (SIZE_UNITS[read[2]] ?? Number.NaN)),
    requestsPerSec: Number(rps[1]),
    requests: Number(total[1]),
    p50Ms: percentile('50'),
    p99Ms: percentile('99'),
    socketErrors,
    non2xx: non2xx?.[1] === undefined ? 0 : Number(non2xx[1]),
  };
}

export interface WrkOptions {
  threads: number;
  connections: number;
  seconds: number;
  latency?: boolean;
  /** Send `Connection: close`: every request then costs a new TCP+TLS connection, with a full
   *  handshake (no session resumption, via the no-resume shim). */
  close?: boolean;
  /** With `close`: let wrk offer its TLS session on each reconnect (resumed handshakes). */
  resume?: boolean;
  path?: string;
}

export async function wrk(ctx: LoadContext, options: WrkOptions): Promise<WrkResult> {
  const args = options.close === true && options.resume !== true ? ['env', `LD_PRELOAD=${ctx.noResumeShim}`] : [];
  args.push('wrk', `-t${options.threads}`, `-c${options.connections}`, `-d${options.seconds}s`, '--timeout', '5s');
  if (options.latency === true) args.push('--latency');
  if (options.close === true) args.push('-H', 'Connection: close');
  args.push(`https://${ORIGIN_NAME}${options.path ?? '/'}`);
  const { stdout } = await run(nsExec(CLIENT_NS, { uid: ctx.uid, cpu: ctx.cpu }, args), {
    timeoutMs: (options.seconds + 15) * 1000,
  });
  return parseWrk(stdout);
}

/**
 * A warm-up run (result discarded) followed by the timed run, as every figure is taken. With
 * `peerPid`, also the CPU the peer used during the timed run: requests per peer CPU-second stay
 * comparable when other work on the machine takes CPU away from the peer.
 */
export async function warmWrk(ctx: LoadContext, options: WrkOptions, warmupSeconds: number, peerPid?: number): Promise<WrkResult> {
  await wrk(ctx, { ...options, seconds: warmupSeconds, latency: false });
  const servedBefore = await ctx.originRequests?.();
  if (peerPid === undefined) return withOrigin(ctx, await wrk(ctx, options), servedBefore);
  const ticksBefore = await treeCpuTicks(peerPid);
  const started = performance.now();
  const result = await wrk(ctx, options);
  const seconds = (performance.now() - started) / 1000;
  const peerCores = (await treeCpuTicks(peerPid)) - ticksBefore;
  return withOrigin(ctx, { ...result, peerCores: peerCores / TICKS_PER_SECOND / seconds }, servedBefore);
}

/** Adds how many requests the origin served since `before` (the status request itself not counted). */
async function withOrigin(ctx: LoadContext, result: WrkResult, before: number | undefined): Promise<WrkResult> {
  const after = await ctx.originRequests?.();
  if (before === undefined || after === undefined) return result;
  return { ...result, originRequests: after - before - 1 };
}

/**
 * A problem when wrk counted clearly more requests than the origin served (more than 1 % and
 * the requests one batch of connections can have in flight): the rate was not a proxied one.
 */
export function unproxiedProblem(what: string, r: WrkResult, connections: number): string | undefined {
  if (r.originRequests === undefined) return undefined;
  if (r.requests - r.originRequests <= Math.max(r.requests * 0.01, 2 * connections)) return undefined;
  return `${what}: wrk counted ${r.requests} responses but the origin served ${r.originRequests} requests: not a proxied rate`;
}

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

/**
 * One HTTPS request through the capture, verifying the certificate against `caFile`. Through
 * a peer that must be the peer's own CA, which proves the peer (and not the origin) answered.
 */
export async function probe(ctx: LoadContext, caFile: string, path = '/'): Promise<ProbeResult> {
  const r = await run(
    nsExec(CLIENT_NS, { uid: ctx.uid, cpu: ctx.cpu }, [
      'curl', '-sS', '--max-time', '5', '--cacert', caFile, '-o', '/dev/null', '-w', '%{http_code}',
      `https://${ORIGIN_NAME}${path}`,
    ]),
    { allowFail: true, timeoutMs: 10_000 },
  );
  return { ok: r.code === 0 && r.stdout === '200', detail: `${r.stdout} ${r.stderr.trim()}`.trim() };
}

export interface DownloadResult {
  bytes: number;
  seconds: number;
  mbPerSec: number;
  status: number;
  /** curl gave up at the time limit; bytes/mbPerSec are what arrived until then. */
  timedOut: boolean;
  /** The HTTP version curl spoke to the peer ("1.1", "2"); uploads only. */
  httpVersion?: string;
}

const CURL_TIMED_OUT = 28;

/** Downloads `path` through the capture into /dev/null; throughput in MB/s (10^6 bytes). */
export async function download(ctx: LoadContext, path: string, timeoutSeconds: number): Promise<DownloadResult> {
  const r = await run(
    nsExec(CLIENT_NS, { uid: ctx.uid, cpu: ctx.cpu }, [
      'curl', '-sS', '-k', '--max-time', String(timeoutSeconds), '-o', '/dev/null',
      '-w', '%{http_code} %{size_download} %{time_total}', `https://${ORIGIN_NAME}${path}`,
    ]),
    { timeoutMs: (timeoutSeconds + 5) * 1000, allowFail: true },
  );
  const timedOut = r.code === CURL_TIMED_OUT;
  if (r.code !== 0 && !timedOut) throw new Error(`curl: exit ${r.code}: ${r.stderr.trim()}`);
  // curl prints the write-out also when it gives up, so a timeout still says how far it got.
  const [status, bytes, seconds] = r.stdout.trim().split(' ').map(Number);
  if (status === undefined || bytes === undefined || seconds === undefined) throw new Error(`curl: unparsable "${r.stdout}"`);
  return { status, bytes, seconds, mbPerSec: bytes / seconds / 1e6, timedOut };
}

/**
 * Uploads `file` (sent as it is read, never loaded whole by curl) by PUT to `path` through the
 * capture; throughput in MB/s (10^6 bytes) of the request body. curl speaks HTTP/2 to a peer
 * that offers it (sluice) and HTTP/1.1 to the others; `curlArgs` can pin it (['--http1.1']).
 */
export async function upload(ctx: LoadContext, path: string, file: string, timeoutSeconds: number, curlArgs: string[] = []): Promise<DownloadResult> {
  const r = await run(
    nsExec(CLIENT_NS, { uid: ctx.uid, cpu: ctx.cpu }, [
      'curl', '-sS', '-k', ...curlArgs, '--max-time', String(timeoutSeconds), '-o', '/dev/null', '-T', file,
      '-H', 'Expect:', '-w', '%{http_code} %{size_upload} %{time_total} %{http_version}', `https://${ORIGIN_NAME}${path}`,
    ]),
    { timeoutMs: (timeoutSeconds + 5) * 1000, allowFail: true },
  );
  const timedOut = r.code === CURL_TIMED_OUT;
  if (r.code !== 0 && !timedOut) throw new Error(`curl: exit ${r.code}: ${r.stderr.trim()}`);
  const [statusText, bytesText, secondsText, httpVersion] = r.stdout.trim().split(' ');
  const [status, bytes, seconds] = [statusText, bytesText, secondsText].map(Number);
  if (status === undefined || bytes === undefined || seconds === undefined || Number.isNaN(status + bytes + seconds)) throw new Error(`curl: unparsable "${r.stdout}"`);
  return { status, bytes, seconds, mbPerSec: bytes / seconds / 1e6, timedOut, httpVersion };
}
