// How much request body an agent may send over h2 before sluice says "more" (WINDOW_UPDATE).
// Node leaves both HTTP/2 receive windows at the protocol's 65,535 bytes, so an upload stalls
// every 64 KiB until sluice's WINDOW_UPDATE reaches the client: a 100 MiB curl upload (curl
// speaks h2 when offered) went at 24–39 MB/s through sluice where the same upload over
// HTTP/1.1 went at 135–173 MB/s, with sluice mostly idle (the bench: 115 MB/s, squid over
// HTTP/1.1 359 MB/s). A bare Node h2 server forwarding with undici shows the same (37–44 MB/s),
// so the limit is the window, not sluice's body path. Both windows must grow: either alone
// changed nothing. Figures: README, Benchmarks.
//
// Memory: Node gives the connection window back as soon as bytes arrive, whatever the stream
// does with them, so it bounds nothing. A stream's window is given back only as its body is
// read: whenever sluice reads a body slower than the agent sends it (an upstream that stalls,
// or a request waiting in undici's queue for a free upstream connection), sluice holds up to
// one stream window of body per stream, i.e. up to 100 MiB per connection with these windows
// (6.4 MiB with Node's) and without bound over many connections: a review measured +103 MiB
// per extra connection. So every h2 request with a body reserves its stream window for its
// life (holdH2ReceiveWindow) from a budget the size of [proxy] buffer_budget_bytes, kept apart
// from the shared one (pipeline/buffer-budget.ts says why); past it the request is refused 503
// over_capacity and drained, never buffered (DESIGN §1: bounded buffers, never an OOM). A
// client that goes away mid-body does not leave its streams holding windows: see
// guardSession (idle-guard.ts).
import type http from 'node:http';
import type http2 from 'node:http2';
import { SluiceError } from '../errors/codes.ts';
import { h2WindowBudget } from '../pipeline/buffer-budget.ts';
import { HELD_AFTER_END_BYTES } from '../upstream/request-body.ts';

/** SETTINGS_INITIAL_WINDOW_SIZE sluice advertises: each request stream's receive window. */
export const H2_STREAM_WINDOW_BYTES = 1024 * 1024;

/**
 * The connection-level receive window. Larger than one stream's window so that the connection
 * never throttles a single upload before its stream window does.
 */
export const H2_CONNECTION_WINDOW_BYTES = 8 * 1024 * 1024;

/** For http2.createSecureServer's `settings`: the stream window, advertised in the first SETTINGS. */
export const H2_RECEIVE_SETTINGS = { initialWindowSize: H2_STREAM_WINDOW_BYTES } as const satisfies http2.Settings;

/**
 * Opens a new session's connection window (a WINDOW_UPDATE on stream 0 right after the
 * preface); call it on the server's 'session' event.
 */
export function openConnectionWindow(session: http2.ServerHttp2Session): void {
  if (session.destroyed) return;
  session.setLocalWindowSize(H2_CONNECTION_WINDOW_BYTES);
}

/**
 * For an h2 request whose stream carries a body: reserves one stream window from the window
 * budget until the response closes. Returns the refusal when the budget has no room
 * (the caller answers it and drains the body), undefined otherwise (HTTP/1.1, or no body).
 */
export function holdH2ReceiveWindow(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): SluiceError | undefined {
  if (req.httpVersionMajor !== 2 || (req as http2.Http2ServerRequest).stream.endAfterHeaders) return undefined;
  const hold = h2WindowBudget.open(res);
  if (!hold.grow(H2_STREAM_WINDOW_BYTES)) {
    hold.release();
    return new SluiceError('over_capacity', 503, 'sluice has no room now for another HTTP/2 request body (as many as [proxy] buffer_budget_bytes allows are open); retry later');
  }
  // Once the body has been read to its end Node buffers nothing more for this stream: what is
  // left is what sluice's own body stream may still hold for a slow upstream (a review: releasing
  // all of it left that unaccounted). The rest goes when the response closes.
  req.once('end', () => hold.shrink(H2_STREAM_WINDOW_BYTES - HELD_AFTER_END_BYTES));
  res.once('close', () => hold.release());
  return undefined;
}
