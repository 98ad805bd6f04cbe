// Where an HTTP request is going, read strictly. Node's parser accepts two Host headers and
// absolute-form targets (DESIGN.md §6), so sluice checks those itself.
import type http from 'node:http';
import type http2 from 'node:http2';
import { SluiceError } from '../errors/codes.ts';
import { normalizeHost, splitHostPort } from '../names/host.ts';
import type { ConnectionInfo } from '../pipeline/exchange.ts';

export interface RequestTarget {
  host: string;
  authority: string;
  path: string;
}

type AnyRequest = http.IncomingMessage | http2.Http2ServerRequest;

function bad(message: string): SluiceError {
  return new SluiceError('bad_request', 400, message);
}

/** Counts header fields named `name` (lower case) in a raw header list. */
function countHeader(raw: readonly string[], name: string): { count: number; value: string | undefined } {
  let count = 0;
  let value: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const key = raw[i] as string;
    if (key.length === name.length && key.toLowerCase() === name) {
      count++;
      value = raw[i + 1];
    }
  }
  return { count, value };
}

/**
 * h2 header limits, checked here because Node's HTTP/1 parser enforces them only for HTTP/1:
 * field count without pseudo-headers, and size as HPACK counts it (RFC 7541 §4.1).
 */
function h2HeadersTooLarge(raw: readonly string[], limits: HeaderLimits): SluiceError | undefined {
  let count = 0;
  let size = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    size += name.length + (raw[i + 1] as string).length + 32;
    if (name.charCodeAt(0) !== 58 /* ':' */) count++;
  }
  if (count > limits.maxHeaderCount) return new SluiceError('headers_too_large', 431, `more than ${limits.maxHeaderCount} request header fields`);
  if (size > limits.maxHeaderBytes) return new SluiceError('headers_too_large', 431, `request headers larger than ${limits.maxHeaderBytes} bytes`);
  return undefined;
}

/** Longest request method accepted (h2: Node checks only that it is a token). */
export const MAX_METHOD_LENGTH = 64;

export interface HeaderLimits {
  maxHeaderCount: number;
  maxHeaderBytes: number;
}

export function readRequestTarget(req: AnyRequest, conn: ConnectionInfo, limits: HeaderLimits): RequestTarget | SluiceError {
  const raw = req.rawHeaders;
  const isH2 = req.httpVersionMajor === 2;
  if (isH2) {
    const tooLarge = h2HeadersTooLarge(raw, limits);
    if (tooLarge !== undefined) return tooLarge;
  } else if (raw.length / 2 > limits.maxHeaderCount) {
    return new SluiceError('headers_too_large', 431, `more than ${limits.maxHeaderCount} request header fields`);
  }
  const method = req.method;
  // HTTP/1's parser knows its methods; h2 passes any token, however long, and it would reach
  // the access log and the upstream. The longest registered method has 17 characters.
  if (method !== undefined && method.length > MAX_METHOD_LENGTH) return bad(`request method longer than ${MAX_METHOD_LENGTH} characters`);
  if (method === 'CONNECT') return new SluiceError('bad_request', 405, 'CONNECT is not supported: sluice is a transparent proxy, send the request itself');
  // "PRI" is the HTTP/2 connection preface, never a request: an HTTP/1 upstream would read it
  // as a broken preface.
  if (method === 'PRI') return new SluiceError('bad_request', 400, 'PRI is the HTTP/2 connection preface, not a request method');
  const hostField = countHeader(raw, 'host');
  if (hostField.count > 1) return bad('two Host headers');
  let authority: string | undefined = hostField.value;
  if (isH2) {
    const pseudo = (req.headers as Record<string, string | undefined>)[':authority'];
    if (pseudo !== undefined && authority !== undefined && pseudo !== authority) return bad(':authority and Host differ');
    authority = pseudo ?? authority;
  }
  if (authority === undefined || authority === '') return bad('missing Host header');
  const parsed = splitHostPort(authority);
  const host = parsed === undefined ? undefined : normalizeHost(parsed.host);
  if (host === undefined) return bad(`invalid Host header ${JSON.stringify(authority.slice(0, 100))}`);

  let path = req.url ?? '';
  if (path.charCodeAt(0) !== 47 /* '/' */) {
    if (path === '*' && method === 'OPTIONS') return bad('asterisk-form targets are not supported');
    // Absolute-form (RFC 9112 §3.2.2): its authority must name the same host.
    let url: URL;
    try {
      url = new URL(path);
    } catch {
      return bad('request target is neither a path nor an absolute URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return bad(`unsupported scheme in request target ${url.protocol}`);
    const targetHost = normalizeHost(url.hostname.replace(/^\[|\]$/g, ''));
    const expected = conn.listener === 'tls' ? conn.host : host;
    if (targetHost !== expected) {
      return bad(`absolute-form target ${url.host} differs from ${conn.listener === 'tls' ? 'the TLS server name' : 'the Host header'} ${expected ?? ''}`);
    }
    path = `${url.pathname}${url.search}`;
  }
  // Upstream sees the normalised name sluice decided on, not the agent's spelling of it.
  const upstreamAuthority = parsed?.port === undefined ? host : `${host.includes(':') ? `[${host}]` : host}:${parsed.port}`;
  return { host, authority: upstreamAuthority, path };
}
