// Library choice for the request path, measured: the same minimal forwarding proxy built on
// undici's dispatcher (what sluice uses) and on http-proxy-3 (http.request with a keep-alive
// agent), both in front of the same nginx origin, loaded by wrk over keep-alive connections.
// Loopback only, bounded in time. Run: npx node bench/forwarders.ts
import http from 'node:http';
import type net from 'node:net';
import { run } from '../test/helpers/process.ts';
import { Agent, type Dispatcher } from 'undici';
import { createProxyServer } from 'http-proxy-3';
import { createTestPki } from '../test/helpers/pki.ts';
import { startNginx } from '../test/helpers/nginx.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);

function undiciProxy(originPort: number): http.Server {
  const agent = new Agent({ connections: 128, keepAliveTimeout: 30_000 });
  return http.createServer((req, res) => {
    agent.dispatch({ origin: `http://127.0.0.1:${originPort}`, path: req.url ?? '/', method: req.method as Dispatcher.HttpMethod, headers: req.headers as Record<string, string>, body: null }, {
      onRequestStart() {},
      onResponseStart(_c, status, headers) {
        delete headers['transfer-encoding'];
        delete headers.connection;
        res.writeHead(status, headers as http.OutgoingHttpHeaders);
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
      onResponseError() {
        res.destroy();
      },
    });
  });
}

function httpProxy3(originPort: number): http.Server {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
  const proxy = createProxyServer({ target: `http://127.0.0.1:${originPort}`, agent });
  return http.createServer((req, res) => proxy.web(req, res, {}, () => res.destroy()));
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

// Asynchronous: the proxies under test run in this process and must keep serving.
async function wrk(port: number): Promise<number> {
  const r = await run('wrk', ['-t1', '-c32', `-d${SECONDS}s`, `http://127.0.0.1:${port}/`], { timeoutMs: (SECONDS + 10) * 1000 });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  if (m === null) console.error(r.stdout, r.stderr);
  return m === null ? 0 : Number(m[1]);
}

const pki = await createTestPki();
const origin = await startNginx(await pki.issue(['origin.test']), { bigBytes: 1024 });
const results: Record<string, number> = {};
for (const [name, make] of [['direct', null], ['undici', undiciProxy], ['http-proxy-3', httpProxy3]] as const) {
  if (make === null) {
    results[name] = await wrk(origin.httpPort);
    continue;
  }
  const server = make(origin.httpPort);
  const port = await listen(server);
  await wrk(port); // warm-up run, discarded
  results[name] = await wrk(port);
  server.closeAllConnections();
  server.close();
}
await origin.stop();
console.log('| forwarder | keep-alive req/s (wrk -c32, plain HTTP) |\n|---|---|');
for (const [name, rps] of Object.entries(results)) console.log(`| ${name} | ${rps.toFixed(0)} |`);
process.exit(0);
