// :15443 — captured TLS. sluice reads the SNI from the ClientHello first (no SNI: alert
// `unrecognized_name`, close, log), then completes the handshake with a leaf minted for that
// name (also for names that will be refused, so the 403 arrives over a working connection),
// and serves HTTP/1.1 or h2 as negotiated by ALPN.
import type net from 'node:net';
import http2 from 'node:http2';
import type http from 'node:http';
import type tls from 'node:tls';
import { parseClientHello, tlsAlert, ALERT_UNRECOGNIZED_NAME, MAX_CLIENT_HELLO_BYTES } from './client-hello.ts';
import { isIpLiteral, normalizeHost } from '../names/host.ts';
import type { ConnectionInfo } from '../pipeline/exchange.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { createRequestHandler, type RequestHandlerOptions } from './request-handler.ts';
import { createUpgradeHandler } from './upgrade-handler.ts';
import { createConnectRefusal } from './connect-refusal.ts';
import { nextConnectionId } from './connection-id.ts';
import { applyClientLimits } from './client-limits.ts';
import { SECURE_SERVER_HTTP1_OPTIONS } from './empty-request-fast-path.ts';
import { guardControlFloods } from './h2-flood-guard.ts';
import { H2_RECEIVE_SETTINGS, openConnectionWindow } from './h2-receive-window.ts';
import { guardFirstRequest, guardSession, requestStarted } from './idle-guard.ts';
import { unpoolAlpnCopies } from './unpooled-alpn.ts';
import { countConnection } from './connection-count.ts';

const kConnection = Symbol('sluice.connection');
type WithConnection = { [kConnection]?: ConnectionInfo };

export interface TlsCaptureOptions {
  current: () => Runtime;
  inflight: RequestHandlerOptions['inflight'];
  /** The port dialled upstream for connections captured here (443 in production). */
  upstreamPort: number;
}

/** DESIGN.md §1: at most 100 concurrent h2 streams per connection. */
export const H2_MAX_CONCURRENT_STREAMS = 100;

/**
 * Key exchange groups offered to the agent, in sluice's order of preference. The agent's leg
 * never leaves its network namespace (sluice shares it, in a pod, beside a compose service and
 * under `sluice sandbox`), so no network carries it on which a session could be recorded for a
 * future quantum computer: the classical groups come first. An agent whose TLS library offers
 * the hybrid X25519MLKEM768 first (Node 24, OpenSSL 3.5) also sends an X25519 key share and gets
 * X25519; one that offers only the hybrid, only X448 or only finite-field groups still
 * connects. What this buys: 1,000 idle connections from Node clients held 58.9–60.0 KiB each
 * through sluice with the hybrid and 49.9–57.3 without (bench/idle-memory.ts, 3 interleaved
 * rounds). Upstream connections keep Node's defaults, hybrid first: that leg crosses the
 * internet.
 */
export const AGENT_KEY_EXCHANGE_GROUPS = 'X25519:P-256:P-384:P-521:X448:X25519MLKEM768:ffdhe2048:ffdhe3072';

/** Client TLS alerts that mean "I do not trust your certificate" (a client with its own roots). */
const UNTRUSTED_ALERTS = /ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|DECRYPT_ERROR)/;

export interface TlsCapture {
  /** Handles one accepted TCP connection (from any bound address). */
  readonly onConnection: (socket: net.Socket) => void;
  readonly secureServer: http2.Http2SecureServer;
}

export function createTlsCapture(options: TlsCaptureOptions): TlsCapture {
  const services = () => options.current().services;

  const secureServer = http2.createSecureServer({
    allowHTTP1: true,
    http1Options: SECURE_SERVER_HTTP1_OPTIONS,
    allowHalfOpen: true,
    // h2 header limits: advertised to the client; request-target.ts answers 431 itself.
    // Streams per connection are bounded (Node's default is unbounded: 500 streams each
    // buffering a SigV4 body held ~5 GB, issue 11 item 6); a stream beyond them is refused
    // with RST_STREAM. Node's own flood defences (rapid reset, SETTINGS/PING floods) stay on.
    settings: { maxHeaderListSize: options.current().config.client.maxHeaderBytes + 4096, maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS, ...H2_RECEIVE_SETTINGS },
    // Rapid reset (CVE-2023-44487): more than 200 RST_STREAMs at once, or over 50 a second
    // sustained, ends the session with GOAWAY ENHANCE_YOUR_CALM (Node's defaults: 1000 and 33).
    streamResetBurst: 200,
    streamResetRate: 50,
    maxHeaderListPairs: Math.max(128, 2 * options.current().config.client.maxHeaderCount + 8),
    minVersion: 'TLSv1.2',
    // The groups of this, the first context, are the ones used: a leaf's context, switched to
    // in SNICallback, does not change them.
    ecdhCurve: AGENT_KEY_EXCHANGE_GROUPS,
    handshakeTimeout: options.current().config.client.headersTimeoutMs,
    SNICallback: (servername, callback) => {
      const runtime = options.current();
      const host = normalizeHost(servername);
      if (host === undefined) {
        callback(new Error('invalid server name'), undefined);
        return;
      }
      // A refused name still gets a leaf so that its 403 arrives over a completed handshake,
      // but that leaf is not kept (the cache holds allowlisted names only).
      const keep = runtime.policy.hostRules(host).length > 0;
      runtime.services.issuer.secureContextFor(host, keep).then(
        (context) => callback(null, context),
        (err: Error) => callback(err, undefined),
      );
    },
  });
  unpoolAlpnCopies(secureServer);
  applyClientLimits(secureServer as unknown as http.Server, options.current().config.client);
  // sluice checks Host itself (request-target.ts) so that the refusal is logged; Node's HTTP/1
  // fallback reads this property from the server.
  (secureServer as unknown as { requireHostHeader: boolean }).requireHostHeader = false;
  // Node enforces the HTTP/1 header and keep-alive timeouts with a periodic check that it
  // starts on 'listening'. This server never listens itself (connections are handed to it
  // after the SNI peek), so start the check explicitly, at a granularity of one second.
  (secureServer as unknown as { connectionsCheckingInterval: number }).connectionsCheckingInterval = 1_000;
  secureServer.emit('listening');

  secureServer.on('secureConnection', (socket: tls.TLSSocket) => {
    const sni = typeof socket.servername === 'string' ? socket.servername : undefined;
    const info: ConnectionInfo = {
      id: nextConnectionId(),
      listener: 'tls',
      sni,
      host: sni === undefined ? undefined : normalizeHost(sni),
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: socket.remotePort ?? 0,
      upstreamPort: options.upstreamPort,
    };
    (socket as WithConnection)[kConnection] = info;
    if (socket.alpnProtocol !== 'h2') guardFirstRequest(socket, options.current().config.client.headersTimeoutMs);
  });
  secureServer.on('session', (session: http2.ServerHttp2Session) => {
    guardSession(session, session.socket as net.Socket, options.current().config.client.keepAliveTimeoutMs);
    guardControlFloods(session);
    openConnectionWindow(session);
  });

  secureServer.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
    const code = err.code ?? err.message;
    const rejected = UNTRUSTED_ALERTS.test(code);
    const sni = typeof socket.servername === 'string' ? socket.servername : undefined;
    services().accessLog.write({
      listener: 'tls',
      sni,
      host: sni === undefined ? undefined : normalizeHost(sni),
      src_port: socket.remotePort,
      decision: 'deny',
      reason: rejected ? 'tls_client_rejected' : 'tls_error',
      message: rejected ? `the client refused sluice's certificate (${code}): it does not trust sluice's CA` : `TLS handshake failed: ${code}`,
    });
    socket.destroy();
  });

  const connectionOf = (req: http.IncomingMessage | http2.Http2ServerRequest): ConnectionInfo => {
    const socket = req.httpVersionMajor === 2
      ? (req as http2.Http2ServerRequest).stream.session?.socket
      : (req as http.IncomingMessage).socket;
    const info = (socket as WithConnection | undefined)?.[kConnection];
    if (info === undefined) throw new Error('request on a connection sluice did not accept');
    if (req.httpVersionMajor !== 2) requestStarted(socket);
    return info;
  };

  secureServer.on('request', createRequestHandler({ current: options.current, inflight: options.inflight, connectionOf }));
  secureServer.on('upgrade', createUpgradeHandler({ current: options.current, connectionOf }));
  secureServer.on('connect', createConnectRefusal({ current: options.current, connectionOf }));
  // h2 sessions that misbehave are closed by Node; keep the process alive.
  secureServer.on('sessionError', () => {});

  /**
   * Reads the ClientHello, then hands the connection to the TLS server. Its own function so that
   * what the peek needs (its listeners, timer and buffer) is released at the hand-off: closures
   * that live as long as the connection must not share this scope.
   */
  const peekClientHello = (socket: net.Socket): void => {
    let buffered: Buffer | undefined;
    const timer = setTimeout(() => socket.destroy(), options.current().config.client.headersTimeoutMs);
    const onError = (): void => {
      socket.destroy();
    };
    socket.on('error', onError);
    const onData = (chunk: Buffer): void => {
      buffered = buffered === undefined ? chunk : Buffer.concat([buffered, chunk]);
      const hello = parseClientHello(buffered);
      if (hello.kind === 'incomplete' && buffered.length <= MAX_CLIENT_HELLO_BYTES) return;
      socket.removeListener('data', onData);
      socket.pause();
      clearTimeout(timer);
      // An IP address is not a server name (RFC 6066 §3): treated like no SNI at all.
      const ipName = hello.kind === 'hello' && hello.serverName !== undefined && isIpLiteral(hello.serverName.replace(/^\[|\]$/g, ''));
      if (hello.kind !== 'hello' || hello.serverName === undefined || ipName) {
        const noSni = hello.kind === 'hello';
        services().accessLog.write({
          listener: 'tls',
          src_port: socket.remotePort,
          decision: 'deny',
          reason: noSni ? 'no_sni' : 'bad_request',
          sni: ipName ? hello.serverName : undefined,
          message: noSni ? (ipName ? 'TLS ClientHello naming an IP address instead of a server name' : 'TLS ClientHello without a server name (SNI)') : 'not a TLS ClientHello on the TLS port',
        });
        if (noSni) socket.end(tlsAlert(ALERT_UNRECOGNIZED_NAME));
        else socket.end();
        return;
      }
      socket.removeListener('error', onError);
      // Hand the connection, with the bytes already read, to the TLS server. TLSSocket feeds
      // data left in the readable buffer to the TLS engine first.
      socket.unshift(buffered);
      secureServer.emit('connection', socket);
    };
    socket.on('data', onData);
  };

  const onConnection = (socket: net.Socket): void => {
    countConnection(socket, services().metrics, 'tls');
    socket.setNoDelay(true);
    peekClientHello(socket);
  };

  return { onConnection, secureServer };
}
