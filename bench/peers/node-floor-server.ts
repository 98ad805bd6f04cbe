// The floor under any Node TLS-terminating forwarder, run as the "node-floor" bench peer: an
// HTTPS server (the origin's own certificate: no minting, no SNI lookup) that hands every
// request to an undici keep-alive pool towards the origin and streams the answer back with
// back-pressure both ways. No allowlist, no credentials, no log, no metrics: what is left is
// Node's TLS, HTTP parsing and undici, which sluice cannot do without. Whatever sluice costs
// above this peer is sluice's own; this peer's distance to squid is Node's.
//
// usage: node node-floor-server.ts DIR PORT ORIGIN_ADDR ORIGIN_NAME [--compile-only]
//   --compile-only: load every module and exit (fills NODE_COMPILE_CACHE; peer-process.ts)
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import type { Agent as UndiciAgent, Dispatcher } from 'undici';

// undici's Agent alone, as sluice loads its Pool and connector (src/upstream/agent.ts): the
// package's entry point also loads fetch, WebSocket and caches, ~14 MiB of RSS neither uses.
const Agent = createRequire(import.meta.url)('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;

const [dir = '.', portText = '15443', originAddr = '127.0.0.1', originName = 'localhost', mode] = process.argv.slice(2);
if (mode === '--compile-only') process.exit(0);
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host', 'te', 'trailer', 'proxy-connection']);

const agent = new Agent({
  connections: 256,
  keepAliveTimeout: 30_000,
  connect: { ca: readFileSync(join(dir, 'test-ca.crt')), servername: originName },
});

function upstreamHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = { host: originName };
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

const server = https.createServer({ cert: readFileSync(join(dir, 'origin.crt')), key: readFileSync(join(dir, 'origin.key')) }, (req, res) => {
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  // A client that goes away ends the upstream call too (as sluice does): an abandoned stream
  // relayed on would load the process while the next call is measured.
  let upstream: Dispatcher.DispatchController | undefined;
  res.once('close', () => {
    if (!res.writableFinished) upstream?.abort(new Error('client closed the connection'));
  });
  agent.dispatch({
    origin: `https://${originAddr}`,
    path: req.url ?? '/',
    method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
    headers: upstreamHeaders(req.headers),
    body: hasBody ? req : null,
  }, {
    onRequestStart(c) {
      upstream = c;
      if (res.destroyed) c.abort(new Error('client closed the connection'));
    },
    onResponseStart(_c, status, headers) {
      const out: OutgoingHttpHeaders = {};
      for (const name in headers) if (!HOP_BY_HOP.has(name)) out[name] = headers[name];
      res.writeHead(status, out);
    },
    onResponseData(c, chunk) {
      if (!res.write(chunk)) {
        c.pause();
        res.once('drain', () => c.resume());
      }
    },
    onResponseEnd() {
      res.end();
    },
    onResponseError(_c, err) {
      if (res.headersSent) res.destroy(err);
      else res.writeHead(502).end();
    },
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(portText), () => process.stderr.write(`node-floor: listening on ${portText}\n`));
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));

// Event-loop lag, sampled as sluice samples its own (10 ms; src/admin/metrics.ts) so the LLM
// stream bench can set the floor beside sluice's figure: SIGUSR2 prints the lag beyond the
// sampling interval since the previous SIGUSR2 (p99 and max, ms) and starts a new window.
const LOOP_SAMPLE_MS = 10;
const loop = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
loop.enable();
const beyond = (ns: number): string => Math.max(0, ns / 1e6 - LOOP_SAMPLE_MS).toFixed(3);
process.on('SIGUSR2', () => {
  const any = loop.count > 0;
  process.stderr.write(`node-floor: lag p99 ${any ? beyond(loop.percentile(99)) : '0'} max ${any ? beyond(loop.max) : '0'}\n`);
  loop.reset();
});
