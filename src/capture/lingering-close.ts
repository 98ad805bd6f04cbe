// What happens to an HTTP/1 connection after Node's parser refused what the client sent there
// (client-error.ts writes the refusal straight onto the socket):
//   - In order. A pipelined request can be refused while the one before it is still being
//     answered; written at once, the refusal would reach the client as the answer to that
//     earlier request (which did reach the upstream). It waits for that response to end.
//     (An error inside the body of the request being answered is that request's own: at once.)
//   - Once. Node reports every later chunk as one more parse error; only the first counts.
//   - Then a lingering close (RFC 9112 §9.6). The client may still be sending the rest of the
//     refused request; closing with those bytes unread makes the kernel answer with a reset,
//     which discards the refusal before the client has read it. So the connection is read and
//     dropped until the client closes it, for at most LINGER_MS.
import type net from 'node:net';
import type http from 'node:http';

const LINGER_MS = 2_000;

const kRefused = Symbol('sluice.refused');
type Refusable = net.Socket & { [kRefused]?: boolean; _httpMessage?: http.ServerResponse | null };

export type ClientErrorHandler = (err: NodeJS.ErrnoException, socket: net.Socket) => void;

/** Wraps a 'clientError' handler: once per connection, after the response under way, then linger. */
export function answerInOrderThenLinger(handle: ClientErrorHandler): ClientErrorHandler {
  const refuse = (err: NodeJS.ErrnoException, socket: net.Socket): void => {
    handle(err, socket);
    if (socket.destroyed) return;
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    // Keep reading (and dropping) what the client still sends.
    socket.resume();
  };
  return (err, socket) => {
    const s = socket as Refusable;
    if (s[kRefused] === true) return;
    s[kRefused] = true;
    // Node's own record of the response being written on this connection (a connection serves
    // one at a time); it is detached before 'close' is emitted on that response.
    const underWay = s._httpMessage;
    const earlierRequestRead = underWay?.req.complete === true;
    if (err.code !== 'ECONNRESET' && underWay !== undefined && underWay !== null && !underWay.writableFinished && earlierRequestRead) {
      underWay.once('close', () => {
        if (!socket.destroyed) refuse(err, socket);
      });
      return;
    }
    refuse(err, socket);
  };
}
