// What SIGTERM does to each client connection (DESIGN.md §1 "SIGTERM ends with exit 0"). Every
// accepted TCP connection is tracked with the requests in flight on it. On drain, a connection
// with none (a TLS handshake or request head still arriving, an idle keep-alive HTTP/1
// connection, an idle h2 session, a WebSocket: it has no request boundary to wait for, its
// client reconnects) is closed at once; an HTTP/1 connection closes after its last response
// (`Connection: close`); an h2 session gets GOAWAY and closes after its last stream. A client
// that gave up on a hung upstream but only half-closed looks like one still waiting: it is
// asked (an interim 102) and, if gone, answers with a reset that ends its request. Whatever is
// still open when the drain time is up is cut.
//
// The same tracking closes idle keep-alive HTTP/1 connections (DESIGN.md §1): Node's keep-alive
// timer is the socket's inactivity timer, and blank lines before a request line start nothing
// (no request, no headers timeout) yet count as activity, so a client sending "\r\n" every few
// seconds held its connection open for good. Here the deadline runs from the moment the
// connection's last response closed, whatever bytes arrive, until a request starts.
import type net from 'node:net';
import type tls from 'node:tls';
import type http from 'node:http';
import type http2 from 'node:http2';
import type { Duplex } from 'node:stream';

/** After an orderly end, how long a client gets to close its side before the socket is destroyed. */
const END_GRACE_MS = 1_000;
/**
 * A client that half-closed while its request waits for a hung upstream may be gone or may be
 * waiting (half-close is allowed: DESIGN.md §1); only a write tells (a gone client answers it
 * with a reset, seen on the next write). Two interim responses, this far apart, tell which.
 */
const PROBE_GAP_MS = 200;

/** Added to the keep-alive timeout, as Node adds its keepAliveTimeoutBuffer: Node's own close comes first. */
const KEEP_ALIVE_GRACE_MS = 1_000;

/** pending: no protocol yet (ClientHello or TLS handshake still arriving). */
type Kind = 'pending' | 'http1' | 'h2' | 'websocket';

interface Tracked {
  readonly raw: net.Socket;
  /** Key in byTuple. */
  readonly tuple: string;
  /** What speaks to the client: the TLSSocket once the handshake is done, else the raw socket. */
  outer: net.Socket;
  kind: Kind;
  session: http2.ServerHttp2Session | undefined;
  /**
   * The HTTP/1 responses that have not closed yet: the one a request-at-a-time client has in
   * flight, and any pipelined behind it. Not one Map per request (created and dropped on every
   * request, with a `once` closure to empty it: ~3 % of sluice's CPU per keep-alive request);
   * nothing is held on an idle connection.
   */
  inflight: http.ServerResponse | undefined;
  pipelined: Set<http.ServerResponse> | undefined;
  /**
   * Draining: the response that carries Connection: close, the last one in flight (with its own
   * keep-alive wish, given back if a pipelined request arrives behind it).
   */
  lastResponse: { res: http.ServerResponse; keepAlive: boolean } | undefined;
  ending: boolean;
  /** Armed when the last response closed; ends the connection unless a request started since. */
  idleDeadline: NodeJS.Timeout | undefined;
}

export interface ConnectionDrain {
  /** A TCP connection accepted by a proxy listener: TLS (handshake next) or plain HTTP/1. */
  accepted(raw: net.Socket, protocol: 'tls' | 'http'): void;
  /** Its TLS handshake completed (the secure server's 'secureConnection'). */
  secured(socket: tls.TLSSocket): void;
  /** An h2 session started on it. */
  session(session: http2.ServerHttp2Session): void;
  /** A request arrived (the servers' 'request'). */
  request(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void;
  /** The connection was upgraded (WebSocket): no request boundary is left to wait for. */
  upgraded(req: http.IncomingMessage, socket: Duplex): void;
  /**
   * Closes what is idle now and each connection as it becomes idle; resolves once every
   * connection is closed, or after `ms`, when what is left is cut. Returns how many were cut.
   */
  drain(ms: number): Promise<number>;
  /** Connections open now. */
  readonly size: number;
}

/** The TCP four-tuple: the same on the raw socket and on the TLS socket (or h2 session) over it. */
function tupleOf(s: { remoteAddress?: string; remotePort?: number; localAddress?: string; localPort?: number }): string {
  return `${s.remoteAddress}|${s.remotePort}|${s.localAddress}|${s.localPort}`;
}

export interface ConnectionDrainOptions {
  /** [client] keepalive_timeout_ms now: how long an HTTP/1 connection may sit without a request. */
  keepAliveMs?: () => number;
}

export function createConnectionDrain(options: ConnectionDrainOptions = {}): ConnectionDrain {
  const byTuple = new Map<string, Tracked>();
  /** A socket's (raw or TLS) or a response's entry: a property, not a WeakMap lookup per request. */
  const kTracked = Symbol('sluice.connection-drain');
  type Carrier = { [kTracked]?: Tracked };
  const trackedBy = (o: object | null | undefined): Tracked | undefined => (o as Carrier | null | undefined)?.[kTracked];
  const track = (o: object, t: Tracked): void => {
    (o as Carrier)[kTracked] = t;
  };
  const idle = (t: Tracked): boolean => t.inflight === undefined && t.pipelined === undefined;
  const open = new Set<Tracked>();
  let draining = false;
  let onEmpty: (() => void) | undefined;

  const destroy = (t: Tracked): void => {
    t.session?.destroy();
    t.raw.destroy();
  };

  /** An orderly close now: GOAWAY, or TLS close_notify and FIN; destroyed if the client lingers. */
  const end = (t: Tracked): void => {
    if (t.ending) return;
    t.ending = true;
    if (t.kind === 'pending') {
      // Handshake or ClientHello still arriving: no protocol to close politely.
      t.raw.destroy();
      return;
    }
    if (t.session !== undefined) {
      // GOAWAY: Node closes the session once its open streams end. A client that went away
      // without resetting its streams answers the GOAWAY with a reset, which the ping then meets.
      t.session.close();
      setTimeout(() => {
        try {
          if (t.session?.destroyed === false) t.session.ping(() => {});
        } catch {
          // Closed meanwhile: nothing left to probe.
        }
      }, PROBE_GAP_MS).unref();
      return;
    }
    t.outer.end();
    setTimeout(() => destroy(t), END_GRACE_MS).unref();
  };

  const onIdleDeadline = (t: Tracked): void => {
    if (t.kind === 'http1' && idle(t)) end(t);
  };
  /** (Re)starts the keep-alive deadline of an HTTP/1 connection that has just gone idle. */
  const armIdleDeadline = (t: Tracked): void => {
    if (t.idleDeadline !== undefined) {
      t.idleDeadline.refresh();
      return;
    }
    const ms = options.keepAliveMs?.();
    if (ms === undefined || ms <= 0) return;
    t.idleDeadline = setTimeout(onIdleDeadline, ms + KEEP_ALIVE_GRACE_MS, t);
    t.idleDeadline.unref();
  };

  /** Asks a half-closed client whose response has not started whether it is still there. */
  const probe = (res: http.ServerResponse, req: http.IncomingMessage, t: Tracked): void => {
    if (req.httpVersion !== '1.1' || !t.outer.readableEnded) return;
    const once = (): void => {
      if (!res.headersSent && !res.destroyed && !t.outer.destroyed) res.writeProcessing();
    };
    once();
    setTimeout(once, PROBE_GAP_MS).unref();
  };

  /** Applies the drain rule to one connection: close if idle, else let its requests finish. */
  const settle = (t: Tracked): void => {
    if (t.kind === 'h2' || t.kind === 'websocket' || t.kind === 'pending' || idle(t)) {
      end(t);
      return;
    }
    const responses = [...(t.inflight === undefined ? [] : [t.inflight]), ...(t.pipelined ?? [])];
    for (const res of responses) if (!res.headersSent) probe(res, res.req, t);
    const last = responses[responses.length - 1];
    if (last !== undefined) closeAfter(t, last);
  };

  /**
   * Makes `res` the connection's last response: Connection: close on it, not on the ones before
   * it, which would close the connection under a pipelined request already sent upstream and drop
   * its answer (the client would send it again).
   */
  const closeAfter = (t: Tracked, res: http.ServerResponse): void => {
    const before = t.lastResponse;
    if (before !== undefined && !before.res.headersSent) before.res.shouldKeepAlive = before.keepAlive;
    t.lastResponse = { res, keepAlive: res.shouldKeepAlive };
    if (!res.headersSent) res.shouldKeepAlive = false;
  };

  /** One 'close' listener shared by every HTTP/1 response (`this` is the response). */
  function onResponseClose(this: http.ServerResponse): void {
    const t = trackedBy(this);
    if (t === undefined) return;
    if (t.lastResponse?.res === this) t.lastResponse = undefined;
    if (t.inflight === this) t.inflight = undefined;
    else if (t.pipelined?.delete(this) === true && t.pipelined.size === 0) t.pipelined = undefined;
    else return;
    // Not for a connection already gone (Node closes its responses after the socket's 'close').
    if (!idle(t) || !open.has(t)) return;
    armIdleDeadline(t);
    if (draining) end(t);
  }

  /**
   * One 'close' listener shared by every connection (`this` is the raw socket): a closure per
   * connection, with the `once` wrapper and their scopes, stayed on every idle connection.
   */
  function onRawClose(this: net.Socket): void {
    const t = trackedBy(this);
    if (t === undefined) return;
    open.delete(t);
    clearTimeout(t.idleDeadline);
    if (byTuple.get(t.tuple) === t) byTuple.delete(t.tuple);
    if (open.size === 0) onEmpty?.();
  }

  return {
    accepted(raw, protocol) {
      if (raw.destroyed) return;
      const t: Tracked = { raw, tuple: tupleOf(raw), outer: raw, kind: protocol === 'http' ? 'http1' : 'pending', session: undefined, inflight: undefined, pipelined: undefined, lastResponse: undefined, ending: false, idleDeadline: undefined };
      byTuple.set(t.tuple, t);
      track(raw, t);
      open.add(t);
      raw.on('close', onRawClose);
      if (draining) end(t);
    },
    secured(socket) {
      const t = byTuple.get(tupleOf(socket));
      if (t === undefined) return;
      t.outer = socket;
      track(socket, t);
      t.kind = socket.alpnProtocol === 'h2' ? 'h2' : 'http1';
      if (draining) settle(t);
    },
    session(session) {
      const t = byTuple.get(tupleOf(session.socket));
      if (t === undefined) return;
      t.kind = 'h2';
      t.session = session;
      if (draining) settle(t);
    },
    request(req, res) {
      if (req.httpVersionMajor === 2) return; // h2: session.close() waits for open streams
      const t = trackedBy((req as http.IncomingMessage).socket);
      if (t === undefined) return;
      const out = res as http.ServerResponse;
      // `inflight` is the oldest: one behind pipelined ones that are still open queues after them.
      if (idle(t)) t.inflight = out;
      else (t.pipelined ??= new Set()).add(out);
      track(out, t);
      if (draining) closeAfter(t, out);
      // 'close' is emitted once: `on` spares the `once` wrapper.
      out.on('close', onResponseClose);
    },
    upgraded(_req, socket) {
      const t = trackedBy(socket);
      if (t === undefined) return;
      t.kind = 'websocket';
      if (draining) end(t);
    },
    async drain(ms) {
      draining = true;
      for (const t of open) settle(t);
      if (open.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          onEmpty = resolve;
          timer = setTimeout(resolve, ms);
        });
        clearTimeout(timer);
      }
      const cut = open.size;
      for (const t of open) destroy(t);
      return cut;
    },
    get size() {
      return open.size;
    },
  };
}
