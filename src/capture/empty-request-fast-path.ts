// A request without Content-Length and Transfer-Encoding has no body (RFC 9112 §6.3), and
// Node's HTTP/1 server can skip its readable-stream life cycle: the request is marked ended and
// closed as it arrives, with no 'end' or 'close' events queued for it (`optimizeEmptyRequests`,
// Node 24). Measured on the keep-alive bench: +2.7 % requests per CPU-second (five interleaved
// pairs of runs, each pair in the fast path's favour).
//
// sluice never reads such a request's body: a step reads one only when the exchange has a body
// (exchange-builder.ts `hasRequestBody`: Transfer-Encoding, or a Content-Length other than 0),
// and a refusal drains only a request that has not ended. Nor does it watch such a request's
// events: it learns that a client went away from the response's 'close' (forward.ts,
// client-gone.ts), which is the one that still fires; a request on the fast path emits no
// 'close' or 'aborted' when its client goes.
//
// Both listeners take it: http.createServer as an option, and the TLS listener's
// Http2SecureServer through `http1Options`, which Node passes to the same HTTP/1 server code
// when allowHTTP1 is set (@types/node does not list the option there yet).
// test/unit/empty-request-fast-path.test.ts checks both.
import type http from 'node:http';
import type http2 from 'node:http2';

export const EMPTY_REQUEST_FAST_PATH: Pick<http.ServerOptions, 'optimizeEmptyRequests'> = { optimizeEmptyRequests: true };

/** The same, as http2.createSecureServer's `http1Options`. */
export const SECURE_SERVER_HTTP1_OPTIONS = EMPTY_REQUEST_FAST_PATH as http2.SecureServerOptions['http1Options'];
