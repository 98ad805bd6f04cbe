// Minted tokens: macaroons (Birgisson et al., "Macaroons: Cookies with Contextual Caveats",
// NDSS 2014) with first-party caveats only, built the way libmacaroons does, on HMAC-SHA256.
//
//   key  = HMAC-SHA256(key = "sluice-mint-v1", data = root key)      (root key: ca_dir/mint.key)
//   sig0 = HMAC-SHA256(key, identifier)          identifier = "v1 CREDENTIAL NONCE"
//   sigN = HMAC-SHA256(sigN-1, caveatN)          caveat = "hosts=…" | "methods=…" | "paths=…"
//                                                         | "expires=ISO-8601" | "not-before=ISO-8601"
//   token = "sluice_mt_" + base64url(identifier "\n" caveat1 "\n" …) + "." + base64url(sigN)
//
// Anyone holding a token can append a caveat and chain the signature one step further
// (attenuate, offline, no key); nobody can remove one, since that would mean inverting HMAC.
// Every caveat must hold (so a later one can only narrow); an unknown caveat fails closed.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseHostPattern } from '../config/host-pattern.ts';
import { hostPatternsOverlap } from '../names/host.ts';
import { compilePathGlob, pathGlobError } from '../steps/policy/path-glob.ts';

export const TOKEN_PREFIX = 'sluice_mt_';
/** A token anywhere in text (for misuse detection and redaction). */
export const TOKEN_PATTERN = /sluice_mt_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}/g;
const KEY_DERIVATION = 'sluice-mint-v1';
const IDENTIFIER = /^v1 ([A-Za-z0-9_-]+) ([0-9a-f]{32})$/;
const B64URL = /^[A-Za-z0-9_-]+$/;

export interface ParsedToken {
  readonly credential: string;
  readonly identifier: string;
  readonly caveats: readonly string[];
  readonly signature: Buffer;
}

export interface TokenRequest {
  host: string;
  method: string;
  /** The path without the query. */
  path: string;
}

export type CaveatVerdict =
  | { ok: true }
  /** 401: outside the validity window; 403: any other caveat that does not hold. */
  | { ok: false; status: 401 | 403; why: string };

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function chain(rootKey: Buffer, identifier: string, caveats: readonly string[]): Buffer {
  const key = createHmac('sha256', KEY_DERIVATION).update(rootKey).digest();
  let sig = hmac(key, identifier);
  for (const caveat of caveats) sig = hmac(sig, caveat);
  return sig;
}

function serialize(identifier: string, caveats: readonly string[], signature: Buffer): string {
  const body = Buffer.from([identifier, ...caveats].join('\n'), 'utf8').toString('base64url');
  return `${TOKEN_PREFIX}${body}.${signature.toString('base64url')}`;
}

/** Why a caveat is not well-formed, or undefined. Checked when minting and attenuating. */
export function caveatError(caveat: string): string | undefined {
  const eq = caveat.indexOf('=');
  if (eq < 0 || caveat.includes('\n')) return `caveat ${JSON.stringify(caveat)} is not KEY=VALUE on one line`;
  const key = caveat.slice(0, eq);
  const values = caveat.slice(eq + 1).split(',');
  switch (key) {
    case 'hosts':
      for (const v of values) {
        const parsed = parseHostPattern(v);
        if (!parsed.ok) return `hosts: ${parsed.reason}`;
        if (parsed.pattern !== v) return `hosts: write ${JSON.stringify(parsed.pattern)} instead of ${JSON.stringify(v)}`;
      }
      return undefined;
    case 'methods':
      return values.every((v) => /^[A-Z]+$/.test(v)) ? undefined : 'methods: upper-case method names, e.g. GET,HEAD';
    case 'paths':
      for (const v of values) {
        const error = pathGlobError(v);
        if (error !== undefined) return `paths: ${error}`;
      }
      return undefined;
    case 'expires':
    case 'not-before':
      return values.length === 1 && Number.isFinite(Date.parse(values[0] as string)) ? undefined : `${key}: one ISO-8601 time`;
    default:
      return `unknown caveat ${JSON.stringify(key)}; valid: hosts, methods, paths, expires, not-before`;
  }
}

function assertCaveats(caveats: readonly string[]): void {
  for (const caveat of caveats) {
    const error = caveatError(caveat);
    if (error !== undefined) throw new Error(error);
  }
}

/** A new token for `credential`, signed with the root key. */
export function mintToken(rootKey: Buffer, credential: string, caveats: readonly string[]): string {
  if (!/^[A-Za-z0-9_-]+$/.test(credential)) throw new Error(`not a credential name: ${JSON.stringify(credential)}`);
  assertCaveats(caveats);
  const identifier = `v1 ${credential} ${randomBytes(16).toString('hex')}`;
  return serialize(identifier, caveats, chain(rootKey, identifier, caveats));
}

/** Parses a token's text; undefined if it is not one (no signature check). */
export function parseToken(token: string): ParsedToken | undefined {
  if (!token.startsWith(TOKEN_PREFIX)) return undefined;
  const dot = token.lastIndexOf('.');
  if (dot < 0) return undefined;
  const body = token.slice(TOKEN_PREFIX.length, dot);
  const sig = token.slice(dot + 1);
  if (!B64URL.test(body) || !B64URL.test(sig)) return undefined;
  const signature = Buffer.from(sig, 'base64url');
  if (signature.length !== 32) return undefined;
  const lines = Buffer.from(body, 'base64url').toString('utf8').split('\n');
  const identifier = lines[0] ?? '';
  const m = IDENTIFIER.exec(identifier);
  if (m === null) return undefined;
  return { credential: m[1] as string, identifier, caveats: lines.slice(1), signature };
}

/** Adds caveats to a token without any key: the result can do at most what the input could. */
export function attenuateToken(token: string, caveats: readonly string[]): string {
  const parsed = parseToken(token);
  if (parsed === undefined) throw new Error('not a sluice minted token');
  assertCaveats(caveats);
  let sig = parsed.signature;
  for (const caveat of caveats) sig = hmac(sig, caveat);
  return serialize(parsed.identifier, [...parsed.caveats, ...caveats], sig);
}

/** True if the token's caveat chain was signed with this root key. */
export function verifyTokenSignature(rootKey: Buffer, token: ParsedToken): boolean {
  return timingSafeEqual(chain(rootKey, token.identifier, token.caveats), token.signature);
}

/** Checks every caveat against a request at time `nowMs`. */
export function checkCaveats(token: ParsedToken, request: TokenRequest, nowMs: number): CaveatVerdict {
  // Time first: an expired token is expired, whatever else it says.
  for (const caveat of token.caveats) {
    const eq = caveat.indexOf('=');
    const key = caveat.slice(0, eq);
    if (key !== 'expires' && key !== 'not-before') continue;
    const at = Date.parse(caveat.slice(eq + 1));
    if (!Number.isFinite(at)) return { ok: false, status: 401, why: `its ${key} caveat is not a time` };
    if (key === 'expires' && nowMs >= at) return { ok: false, status: 401, why: `it expired at ${new Date(at).toISOString()}` };
    if (key === 'not-before' && nowMs < at) return { ok: false, status: 401, why: `it is not valid before ${new Date(at).toISOString()}` };
  }
  for (const caveat of token.caveats) {
    const eq = caveat.indexOf('=');
    const key = eq < 0 ? caveat : caveat.slice(0, eq);
    const values = caveat.slice(eq + 1).split(',');
    switch (key) {
      case 'expires':
      case 'not-before':
        break;
      case 'hosts':
        if (!values.some((v) => hostPatternsOverlap(v, request.host))) return { ok: false, status: 403, why: `it is limited to hosts ${values.join(',')}` };
        break;
      case 'methods':
        if (!values.includes(request.method)) return { ok: false, status: 403, why: `it is limited to methods ${values.join(',')}` };
        break;
      case 'paths': {
        const matches = values.some((v) => pathGlobError(v) === undefined && compilePathGlob(v)(request.path));
        if (!matches) return { ok: false, status: 403, why: `it is limited to paths ${values.join(',')}` };
        break;
      }
      default:
        return { ok: false, status: 403, why: 'it carries a caveat sluice does not understand' };
    }
  }
  return { ok: true };
}
