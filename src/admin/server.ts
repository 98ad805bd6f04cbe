// The admin listener: health, readiness and metrics only — never config or secrets. The
// iptables filter rules refuse it to the agent's uids.
import type NodeHttp from 'node:http';
import http from '../runtime/node-http.ts';
import type { Metrics } from './metrics.ts';

export interface Readiness {
  /** Reasons sluice is not ready; empty when ready. */
  problems(): string[];
}

export function createAdminServer(metrics: Metrics, readiness: Readiness): NodeHttp.Server {
  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const problems = readiness.problems();
      if (problems.length === 0) res.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
      else res.writeHead(503, { 'content-type': 'text/plain' }).end(`not ready: ${problems.join('; ')}\n`);
    } else if (path === '/metrics') {
      const body = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /readyz, /metrics\n');
    }
  });
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  return server;
}
