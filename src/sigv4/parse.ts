// Reads what a SigV4 client claims: the Authorization header (`AWS4-HMAC-SHA256 Credential=…,
// SignedHeaders=…, Signature=…`) or a presigned URL's X-Amz-* query parameters. Errors are one
// line, say what is wrong, and never repeat a signature or a token.
import type { HeaderMap } from '../http/header-map.ts';
import { parseQuery, queryParam, splitTarget } from './query.ts';

export const HMAC_ALGORITHM = 'AWS4-HMAC-SHA256';
export const ECDSA_ALGORITHM = 'AWS4-ECDSA-P256-SHA256';
export type SigV4Algorithm = typeof HMAC_ALGORITHM | typeof ECDSA_ALGORITHM;

export interface CredentialScope {
  /** yyyymmdd */
  readonly date: string;
  /** Undefined for SigV4A, whose scope has no region (x-amz-region-set names them). */
  readonly region: string | undefined;
  readonly service: string;
}

export interface SigV4Auth {
  readonly algorithm: SigV4Algorithm;
  readonly location: 'header' | 'query';
  readonly accessKeyId: string;
  readonly scope: CredentialScope;
  /** Lower-case names, in the order the client listed them. */
  readonly signedHeaders: readonly string[];
  /** Lower-case hex (SigV4A: a DER-encoded ECDSA signature, of varying length). */
  readonly signature: string;
  /** yyyymmddThhmmssZ: X-Amz-Date (header or query), else a Date header in that form. */
  readonly amzDate: string;
  /** X-Amz-Expires of a presigned URL, in seconds. */
  readonly expires: number | undefined;
}

export type ParseFailure = { readonly error: string };

const SIGNATURE = /^[0-9a-f]{64}$/;
const ECDSA_SIGNATURE = /^(?:[0-9a-f]{2}){8,80}$/;
const SHORT_DATE = /^\d{8}$/;
const LONG_DATE = /^\d{8}T\d{6}Z$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

export function scopeString(scope: CredentialScope): string {
  return scope.region === undefined ? `${scope.date}/${scope.service}/aws4_request` : `${scope.date}/${scope.region}/${scope.service}/aws4_request`;
}

/** `AKID/yyyymmdd/region/service/aws4_request` (SigV4A: `AKID/yyyymmdd/service/aws4_request`). */
export function parseCredential(value: string, algorithm: SigV4Algorithm = HMAC_ALGORITHM): { accessKeyId: string; scope: CredentialScope } | ParseFailure {
  const parts = value.split('/');
  if (algorithm === ECDSA_ALGORITHM) {
    if (parts.length !== 4) return { error: 'SigV4A Credential must be KEYID/DATE/SERVICE/aws4_request' };
    parts.splice(2, 0, '-');
  }
  if (parts.length !== 5) return { error: 'Credential must be KEYID/DATE/REGION/SERVICE/aws4_request' };
  const [accessKeyId, date, regionPart, service, terminator] = parts as [string, string, string, string, string];
  const region = algorithm === ECDSA_ALGORITHM ? undefined : regionPart;
  if (accessKeyId === '') return { error: 'Credential has an empty access key id' };
  if (!SHORT_DATE.test(date)) return { error: 'Credential date is not yyyymmdd' };
  if (region === '' || service === '') return { error: 'Credential has an empty region or service' };
  if (terminator !== 'aws4_request') return { error: 'Credential does not end in aws4_request' };
  return { accessKeyId, scope: { date, region, service } };
}

function signatureShape(algorithm: SigV4Algorithm): RegExp {
  return algorithm === ECDSA_ALGORITHM ? ECDSA_SIGNATURE : SIGNATURE;
}

function signatureError(algorithm: SigV4Algorithm, field: string): string {
  return algorithm === ECDSA_ALGORITHM ? `${field} must be a hex DER ECDSA signature` : `${field} must be 64 lower-case hex digits`;
}

function parseSignedHeaders(value: string): readonly string[] | ParseFailure {
  const names = value.split(';');
  for (const name of names) {
    if (!HEADER_NAME.test(name)) return { error: 'SignedHeaders must be lower-case header names separated by ";"' };
  }
  return names;
}

function headerValue(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function amzDateOf(headers: HeaderMap): string | ParseFailure {
  const amz = headerValue(headers, 'x-amz-date');
  if (amz !== undefined) return LONG_DATE.test(amz.trim()) ? amz.trim() : { error: 'X-Amz-Date is not yyyymmddThhmmssZ' };
  const date = headerValue(headers, 'date');
  if (date !== undefined && LONG_DATE.test(date.trim())) return date.trim();
  return { error: 'a SigV4 request needs an X-Amz-Date header (yyyymmddThhmmssZ)' };
}

/** Parses `Authorization: AWS4-HMAC-SHA256 …`; tolerates missing spaces after commas (s3cmd). */
export function parseAuthorizationHeader(value: string, headers: HeaderMap): SigV4Auth | ParseFailure {
  const trimmed = value.trim();
  const space = trimmed.search(/\s/);
  const algorithm = space < 0 ? trimmed : trimmed.slice(0, space);
  if (algorithm !== HMAC_ALGORITHM && algorithm !== ECDSA_ALGORITHM) return { error: `unsupported Authorization algorithm ${JSON.stringify(algorithm.slice(0, 40))}` };
  const fields = new Map<string, string>();
  for (const item of trimmed.slice(space + 1).split(',')) {
    const field = item.trim();
    if (field === '') continue;
    const eq = field.indexOf('=');
    if (eq < 0) return { error: 'Authorization fields must be Name=value' };
    const name = field.slice(0, eq).trim();
    if (fields.has(name)) return { error: `Authorization names ${name} twice` };
    fields.set(name, field.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signed = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential === undefined || signed === undefined || signature === undefined) {
    return { error: 'Authorization needs Credential, SignedHeaders and Signature' };
  }
  const cred = parseCredential(credential, algorithm);
  if ('error' in cred) return cred;
  const signedHeaders = parseSignedHeaders(signed);
  if ('error' in signedHeaders) return signedHeaders;
  if (!signatureShape(algorithm).test(signature)) return { error: signatureError(algorithm, 'Signature') };
  const amzDate = amzDateOf(headers);
  if (typeof amzDate !== 'string') return amzDate;
  return { algorithm, location: 'header', ...cred, signedHeaders, signature, amzDate, expires: undefined };
}

/** Parses a presigned URL's query; undefined if it carries no X-Amz-Signature / X-Amz-Credential. */
export function parsePresignedQuery(query: string | undefined): SigV4Auth | ParseFailure | undefined {
  const pairs = parseQuery(query);
  const signature = queryParam(pairs, 'X-Amz-Signature');
  const credential = queryParam(pairs, 'X-Amz-Credential');
  if (signature === undefined && credential === undefined) return undefined;
  const algorithm = queryParam(pairs, 'X-Amz-Algorithm');
  if (algorithm !== HMAC_ALGORITHM && algorithm !== ECDSA_ALGORITHM) return { error: 'X-Amz-Algorithm must be AWS4-HMAC-SHA256 or AWS4-ECDSA-P256-SHA256' };
  const signed = queryParam(pairs, 'X-Amz-SignedHeaders');
  const amzDate = queryParam(pairs, 'X-Amz-Date');
  const expires = queryParam(pairs, 'X-Amz-Expires');
  if (signature === undefined || credential === undefined || signed === undefined || amzDate === undefined) {
    return { error: 'a presigned URL needs X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders and X-Amz-Signature' };
  }
  const cred = parseCredential(credential, algorithm);
  if ('error' in cred) return cred;
  const signedHeaders = parseSignedHeaders(signed);
  if ('error' in signedHeaders) return signedHeaders;
  if (!signatureShape(algorithm).test(signature)) return { error: signatureError(algorithm, 'X-Amz-Signature') };
  if (!LONG_DATE.test(amzDate)) return { error: 'X-Amz-Date is not yyyymmddThhmmssZ' };
  if (expires !== undefined && !/^\d{1,7}$/.test(expires)) return { error: 'X-Amz-Expires is not a number of seconds' };
  return {
    algorithm, location: 'query', ...cred, signedHeaders, signature, amzDate,
    expires: expires === undefined ? undefined : Number(expires),
  };
}

/**
 * The SigV4 claim of a request, from its Authorization header or its query; undefined if the
 * request is not SigV4-signed at all.
 */
export function findSigV4(headers: HeaderMap, target: string): SigV4Auth | ParseFailure | undefined {
  const authorization = headerValue(headers, 'authorization');
  const isAws4 = authorization !== undefined && /^\s*AWS4-/.test(authorization);
  const presigned = parsePresignedQuery(splitTarget(target).query);
  if (isAws4 && presigned !== undefined) return { error: 'a request may carry a SigV4 Authorization header or a presigned query, not both' };
  if (isAws4) return parseAuthorizationHeader(authorization, headers);
  return presigned;
}

/** Seconds between the signing time and `now` (positive: the client's clock is ahead). */
export function clockSkewSeconds(amzDate: string, now: number): number {
  const t = Date.UTC(
    Number(amzDate.slice(0, 4)), Number(amzDate.slice(4, 6)) - 1, Number(amzDate.slice(6, 8)),
    Number(amzDate.slice(9, 11)), Number(amzDate.slice(11, 13)), Number(amzDate.slice(13, 15)),
  );
  return Math.round((t - now) / 1000);
}
