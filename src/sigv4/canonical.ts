// Rebuilds the canonical request a SigV4 client signed, from what arrived: the method, the path
// (as received for S3, normalised and encoded again for every other service), the query
// re-encoded and sorted (`?uploads` is `uploads=`), the signed headers in the client's list
// with their values trimmed (duplicates joined with ","; `host` is the authority sent upstream,
// which is also what `:authority` becomes for h2), and the payload hash.
// Where clients differ in spelling (a `+` in a query, an S3 path not in AWS's encoding) more
// than one candidate is built; the surrogate signature decides which one the client signed.
import type { HeaderMap } from '../http/header-map.ts';
import type { ParseFailure } from './parse.ts';
import { decodeComponent, isParam, parseQuery, splitTarget, uriEncode, type QueryPair } from './query.ts';

/** Services that sign the path as sent (no normalisation, no second encoding). */
const S3_SERVICES = new Set(['s3', 's3-object-lambda', 's3-outposts']);

export function isS3Service(service: string): boolean {
  return S3_SERVICES.has(service);
}

export interface CanonicalParts {
  readonly method: string;
  readonly path: string;
  /** The query pairs as received (a presigned URL's X-Amz-Signature excluded). */
  readonly queryPairs: readonly QueryPair[];
  /** Whether `+` in the query reads as a space (form style) for this client. */
  readonly plusAsSpace: boolean;
  /** [name, canonical value] in the order of SignedHeaders. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly payloadHash: string;
}

export function canonicalQuery(pairs: readonly QueryPair[], plusAsSpace: boolean): string {
  const encoded = pairs.map((p) => {
    const key = uriEncode(decodeComponent(p.rawKey, plusAsSpace));
    const value = uriEncode(decodeComponent(p.rawValue ?? '', plusAsSpace));
    return [key, value] as const;
  });
  encoded.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return encoded.map(([k, v]) => `${k}=${v}`).join('&');
}

export function renderCanonicalRequest(parts: CanonicalParts): string {
  const names = parts.headers.map(([n]) => n).join(';');
  const block = parts.headers.map(([n, v]) => `${n}:${v}\n`).join('');
  return `${parts.method}\n${parts.path}\n${canonicalQuery(parts.queryPairs, parts.plusAsSpace)}\n${block}\n${names}\n${parts.payloadHash}`;
}

/** Non-S3 services: dot segments resolved, empty segments dropped, each segment encoded again. */
function normalisedPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  return `/${segments.join('/')}${trailing}`;
}

function reencodeSegments(path: string): string {
  return path.split('/').map((s) => uriEncode(decodeComponent(s))).join('/');
}

/** The canonical URI candidates for a path as received, most likely first. */
export function canonicalPaths(path: string, s3: boolean): string[] {
  const raw = path === '' ? '/' : path;
  const out: string[] = [];
  const add = (p: string): void => {
    if (!out.includes(p)) out.push(p);
  };
  if (s3) {
    add(raw);
    add(reencodeSegments(raw));
  } else {
    const normal = normalisedPath(raw);
    add(uriEncode(normal).replace(/%2F/g, '/'));
    add(reencodeSegments(normal));
  }
  return out;
}

const COLLAPSE = /[ \t]+/g;

function canonicalValue(value: string | string[]): string {
  const list = Array.isArray(value) ? value : [value];
  return list.map((v) => v.replace(/[\r\n]/g, ' ').trim().replace(COLLAPSE, ' ')).join(',');
}

/** The signed headers' canonical values, or what is missing. */
export function canonicalHeaders(headers: HeaderMap, authority: string, signed: readonly string[]): Array<readonly [string, string]> | ParseFailure {
  const out: Array<readonly [string, string]> = [];
  for (const name of signed) {
    if (name === 'host') {
      out.push([name, canonicalValue(authority)]);
      continue;
    }
    const value = headers[name];
    if (value === undefined) {
      return { error: `SignedHeaders names ${name}, which the request does not carry upstream (sluice never forwards hop-by-hop headers)` };
    }
    out.push([name, canonicalValue(value)]);
  }
  return out;
}

export interface ReceivedRequest {
  readonly method: string;
  /** Origin-form target (path and query) as it will be sent upstream. */
  readonly target: string;
  /** Host header value sent upstream. */
  readonly authority: string;
  readonly headers: HeaderMap;
}

/**
 * Every canonical request the client may have signed, most likely first. `presigned` drops
 * X-Amz-Signature from the query; `payloadHashes` lists the payload hashes to try.
 */
export function canonicalCandidates(
  req: ReceivedRequest,
  options: { service: string; signedHeaders: readonly string[]; presigned: boolean; payloadHashes: readonly string[] },
): CanonicalParts[] | ParseFailure {
  const headers = canonicalHeaders(req.headers, req.authority, options.signedHeaders);
  if ('error' in headers) return headers;
  const { path, query } = splitTarget(req.target);
  let pairs = parseQuery(query);
  if (options.presigned) pairs = pairs.filter((p) => !isParam(p, 'X-Amz-Signature'));
  const plusVariants = pairs.some((p) => `${p.rawKey}${p.rawValue ?? ''}`.includes('+')) ? [false, true] : [false];
  const out: CanonicalParts[] = [];
  for (const payloadHash of options.payloadHashes) {
    for (const canonicalPath of canonicalPaths(path, isS3Service(options.service))) {
      for (const plusAsSpace of plusVariants) {
        out.push({ method: req.method, path: canonicalPath, queryPairs: pairs, plusAsSpace, headers, payloadHash });
      }
    }
  }
  return out;
}
