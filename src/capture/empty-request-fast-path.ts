// A request without Content-Length and Transfer-Encoding has no body (RFC 9112 §6.3), and
// Node's HTTP/1 server can skip its readable-stream life cycle: the request is marked ended and
// closed as it arrives, with no 'end' or 'close' events queued for it (`optimizeEmptyRequests`,
// Node 24). Measured on the keep-alive bench: +2.7 % requests per CPU-second (five interleaved
// pairs of runs, each pair in the fast path's favour).
//
// sluice never reads such a request's body: a step reads one only when the exchange has a body
// (exchange-builder.ts `hasBody`: Transfer-Encoding, or a Content-Length other than 0), and a
// refusal drains only a request that has not ended.
//
// The plain-HTTP listener passes the option to http.createServer. The TLS listener's server is an
// Http2SecureServer that takes HTTP/1.1 too (allowHTTP1). Node runs its HTTP/1 requests with
// http.Server's code, which reads this setting from a field that only http.Server's constructor
// fills, so the setting is copied under the same key: a symbol, found on a server built with
// the option. test/integration/empty-request-fast-path.test.ts fails if it is no longer found.
import type http from 'node:http';
import nodeHttp from '../runtime/node-http.ts';

let key: symbol | null | undefined;

/** The key under which http.Server keeps `optimizeEmptyRequests`, or null when this Node has none. */
function optionKey(): symbol | null {
  if (key !== undefined) return key;
  const probe = nodeHttp.createServer({ optimizeEmptyRequests: true });
  const fields = probe as unknown as Record<symbol, unknown>;
  key = Object.getOwnPropertySymbols(probe).find((s) => s.description === 'OptimizeEmptyRequestsOption' && fields[s] === true) ?? null;
  return key;
}

/** Turns the fast path on for the HTTP/1 requests of `server`; false when this Node offers none. */
export function enableEmptyRequestFastPath(server: object): boolean {
  const k = optionKey();
  if (k === null) return false;
  (server as Record<symbol, unknown>)[k] = true;
  return true;
}

/** The http.createServer option, for servers built here. */
export const EMPTY_REQUEST_FAST_PATH: Pick<http.ServerOptions, 'optimizeEmptyRequests'> = { optimizeEmptyRequests: true };
