// Idle connections are closed. Node's headers timeout only starts counting at a request's
// first byte, and its keep-alive timeout only after a response, so a connection that never
// sends anything would be held forever; Node gives h2 sessions no idle limit at all. (Idle
// HTTP/1 keep-alive after a response: runtime/connection-drain.ts.)
import type net from 'node:net';
import type http2 from 'node:http2';
import { constants as http2constants } from 'node:http2';

const kGuarded = Symbol('sluice.idleGuard');
type Guarded = net.Socket & { [kGuarded]?: boolean };

/** Closes the socket if no request starts within `ms` of the connection being accepted. */
export function guardFirstRequest(socket: net.Socket, ms: number): void {
  (socket as Guarded)[kGuarded] = true;
  socket.setTimeout(ms);
  socket.on('timeout', closeIfNoRequest);
}

/**
 * One listener shared by every socket, removed at the first request: a per-socket closure
 * (and the `once` wrapper around it) stayed on every keep-alive connection for its whole life.
 */
function closeIfNoRequest(this: Guarded): void {
  if (this[kGuarded] === true) this.destroy();
}

/** Called when a request arrives: from now on Node's own timeouts govern the connection. */
export function requestStarted(socket: net.Socket | undefined): void {
  if (socket === undefined) return;
  const s = socket as Guarded;
  if (s[kGuarded] === true) {
    s[kGuarded] = false;
    socket.setTimeout(0);
    socket.removeListener('timeout', closeIfNoRequest);
  }
}

/**
 * An h2 session's lifetime: with no open stream for `ms` it is closed (GOAWAY; open streams are
 * never cut). And when the client half-closes the TCP connection under it (sluice's TLS
 * listener allows half-open sockets for HTTP/1.1's sake), no frame can follow, so a stream still
 * waiting for request body can never complete: those are cancelled (their upstream exchange is
 * aborted and what they hold is freed); streams whose request is complete still get their
 * responses, then the session closes. Without that, a client that opened streams and went away
 * left them, and their receive windows, held until the upstream gave up.
 */
export function guardSession(session: http2.ServerHttp2Session, socket: net.Socket, ms: number): void {
  const open = new Set<http2.ServerHttp2Stream>();
  // A deadline from the moment the last stream closed, not the session's inactivity timer:
  // PING (or SETTINGS, or WINDOW_UPDATE) frames are activity that opens nothing, and a client
  // pinging every few seconds held an idle session open for good (an attacker's review).
  const deadline = setTimeout(() => {
    if (open.size === 0 && !session.closed && !session.destroyed) session.close();
  }, ms);
  deadline.unref();
  session.on('stream', (stream: http2.ServerHttp2Stream) => {
    open.add(stream);
    stream.once('close', () => {
      open.delete(stream);
      if (open.size === 0) deadline.refresh();
    });
  });
  session.once('close', () => clearTimeout(deadline));
  socket.once('end', () => {
    for (const stream of open) if (!stream.readableEnded && !stream.destroyed) stream.close(http2constants.NGHTTP2_CANCEL);
    if (!session.closed && !session.destroyed) session.close();
  });
}
