// Which headers cross sluice. Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection;
// headers that claim proxy or client identity (Proxy-*, Forwarded, X-Forwarded-*) may not be
// set by the agent; `expect` is answered by sluice itself (Node sends 100 Continue).
import type { HeaderMap } from './header-map.ts';

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'http2-settings', 'host', 'expect',
]);

function isAgentForbidden(name: string): boolean {
  return name.startsWith('proxy-') || name === 'forwarded' || name.startsWith('x-forwarded-');
}

/** Headers named in a Connection header are hop-by-hop too. */
function connectionListed(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  // The common values name no header: answered without splitting (every keep-alive response).
  if (typeof value === 'string' && /^\s*(?:keep-alive|close)\s*$/i.test(value)) return undefined;
  const joined = Array.isArray(value) ? value.join(',') : value;
  const names = joined.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '' && s !== 'close' && s !== 'keep-alive');
  return names.length > 0 ? new Set(names) : undefined;
}

function isTrailersOnly(value: string | string[] | undefined): boolean {
  return typeof value === 'string' && value.trim().toLowerCase() === 'trailers';
}

/** The request headers to forward upstream (names lower case, pseudo-headers dropped). */
export function requestHeadersForUpstream(headers: HeaderMap): HeaderMap {
  const listed = connectionListed(headers.connection);
  const out: HeaderMap = {};
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    if (name === 'te' && isTrailersOnly(headers.te)) {
      // "TE: trailers" is the one TE value HTTP/2 allows, and gRPC servers require it.
      out.te = 'trailers';
      continue;
    }
    if (HOP_BY_HOP.has(name) || isAgentForbidden(name)) continue;
    if (listed !== undefined && listed.has(name)) continue;
    out[name] = headers[name];
  }
  return out;
}

/** The response headers to pass to the agent. */
export function responseHeadersForClient(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const listed = connectionListed(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || name === 'proxy-authenticate') continue;
    if (listed !== undefined && listed.has(name)) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}
