// A request target's query string as it arrived, piece by piece, so SigV4 can rebuild the
// canonical query from the client's own spelling and sluice can change one parameter (the
// presigned signature, key id, session token) while every other byte of the URL stays as sent.
import { decodePercent } from '../http/percent-decode.ts';

export interface QueryPair {
  readonly rawKey: string;
  /** Undefined for a bare flag such as `?uploads` (canonically `uploads=`). */
  readonly rawValue: string | undefined;
}

export function splitTarget(target: string): { path: string; query: string | undefined } {
  const q = target.indexOf('?');
  return q < 0 ? { path: target, query: undefined } : { path: target.slice(0, q), query: target.slice(q + 1) };
}

export function parseQuery(query: string | undefined): QueryPair[] {
  if (query === undefined || query === '') return [];
  const pairs: QueryPair[] = [];
  for (const piece of query.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    pairs.push(eq < 0 ? { rawKey: piece, rawValue: undefined } : { rawKey: piece.slice(0, eq), rawValue: piece.slice(eq + 1) });
  }
  return pairs;
}

export function formatQuery(pairs: readonly QueryPair[]): string {
  return pairs.map((p) => (p.rawValue === undefined ? p.rawKey : `${p.rawKey}=${p.rawValue}`)).join('&');
}

/** Percent-decoding that never throws (one implementation: src/http/percent-decode.ts). */
export const decodeComponent = decodePercent;

/** AWS's UriEncode: every byte except A-Z a-z 0-9 - . _ ~ as %XX (upper case). */
export function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The decoded value of parameter `name` (matched case-insensitively), if present once or more. */
export function queryParam(pairs: readonly QueryPair[], name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const p of pairs) {
    if (decodeComponent(p.rawKey).toLowerCase() === lower) return decodeComponent(p.rawValue ?? '');
  }
  return undefined;
}

export function isParam(pair: QueryPair, name: string): boolean {
  return decodeComponent(pair.rawKey).toLowerCase() === name.toLowerCase();
}
