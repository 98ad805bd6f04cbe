// WebSocket upgrades (e.g. realtime LLM APIs), forwarded with http-proxy-3, which handles the
// upgrade handshake, a non-101 answer, and the byte pipe in both directions. Its connections go
// through agents whose lookup is sluice's checked resolver, so an upgrade, too, dials only an
// address that passed the private-address check, and verifies the upstream certificate.
import http from 'node:http';
import https from 'node:https';
import type tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { LookupFunction } from 'node:net';
import { createProxyServer } from 'http-proxy-3';
import type { Exchange } from '../pipeline/exchange.ts';
import type { CheckedResolver } from './resolve.ts';

export interface UpgradeResult {
  /** 101 when the upstream switched protocols, its status when it refused, 0 on failure. */
  status: number;
  error: Error | undefined;
}

export interface WebSocketForwarder {
  forward(ex: Exchange, req: http.IncomingMessage, socket: Duplex, head: Buffer, done: (result: UpgradeResult) => void): void;
  close(): void;
}

function checkedLookup(resolver: CheckedResolver, allowPrivate: boolean): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    resolver.resolve(hostname, allowPrivate).then(
      (resolved) => {
        const list = resolved.addresses.map((a) => ({ address: a.address, family: a.family }));
        if (options.all === true) callback(null, list);
        else callback(null, list[0]?.address, list[0]?.family);
      },
      (err: Error) => callback(err),
    );
  }) as LookupFunction;
}

export function createWebSocketForwarder(resolver: CheckedResolver, trust: tls.SecureContext, connectTimeoutMs: number): WebSocketForwarder {
  const agents = new Map<string, http.Agent>();
  const agentFor = (secure: boolean, allowPrivate: boolean): http.Agent => {
    const key = `${secure}:${allowPrivate}`;
    let agent = agents.get(key);
    if (agent === undefined) {
      const lookup = checkedLookup(resolver, allowPrivate);
      agent = secure
        ? new https.Agent({ keepAlive: false, lookup, secureContext: trust, timeout: connectTimeoutMs })
        : new http.Agent({ keepAlive: false, lookup, timeout: connectTimeoutMs });
      agents.set(key, agent);
    }
    return agent;
  };

  const proxy = createProxyServer({ ws: true, xfwd: false, secure: true, prependPath: false });
  // The log line is written when the upstream answers the upgrade, not when the socket
  // closes: a WebSocket may stay open for hours.
  const pending = new WeakMap<http.IncomingMessage, (status: number, error: Error | undefined) => void>();
  proxy.on('proxyReqWs', (proxyReq: http.ClientRequest, req: http.IncomingMessage) => {
    const report = pending.get(req);
    if (report === undefined) return;
    proxyReq.once('upgrade', () => report(101, undefined));
    proxyReq.once('response', (res: http.IncomingMessage) => report(res.statusCode ?? 0, undefined));
  });

  return {
    forward(ex, req, socket, head, done) {
      const secure = ex.conn.listener === 'tls';
      const host = ex.host.includes(':') ? `[${ex.host}]` : ex.host;
      // What the steps decided is what goes upstream: their headers, plus the upgrade itself.
      req.headers = { ...ex.headers, host: ex.authority, connection: 'Upgrade', upgrade: String(req.headers.upgrade ?? 'websocket') } as http.IncomingHttpHeaders;
      req.url = ex.path;
      let reported = false;
      const report = (status: number, error: Error | undefined): void => {
        if (reported) return;
        reported = true;
        done({ status, error });
      };
      pending.set(req, report);
      socket.once('close', () => report(0, new Error('the client closed before the upstream answered')));
      proxy.ws(req, socket as never, head, {
        target: `${secure ? 'https' : 'http'}://${host}:${ex.conn.upstreamPort}`,
        agent: agentFor(secure, ex.rule?.private === true),
      }, (err: Error) => report(0, err));
    },
    close() {
      for (const agent of agents.values()) agent.destroy();
      proxy.close();
    },
  };
}
