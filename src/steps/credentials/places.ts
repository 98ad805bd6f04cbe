// Where a client puts a credential (DESIGN.md §2): Authorization (Bearer or any other scheme,
// Basic with either half, git's "x-access-token:TOKEN"), x-api-key, x-goog-api-key, headers
// named in `headers = […]`, query parameters named in `query = […]`. Each place is read as
// the client wrote it and can be written back in the same form with a different credential.
// AWS's SigV4 places (Authorization: AWS4-…, X-Amz-Credential) are read by aws.ts.

import type { Exchange } from '../../pipeline/exchange.ts';
import { decodePercent } from '../../http/percent-decode.ts';

/** One credential text inside a place (a Basic header has two: user and password). */
export interface SlotPart {
  /** For messages: "header authorization (Basic password)". Never the value. */
  readonly where: string;
  /** The credential as presented (decoded from Basic or percent-encoding). */
  readonly value: string;
  /** Puts a different credential in the same place and form. */
  write(next: string): void;
}

export interface Slot {
  /** Header name or query parameter name: decides which credentials use the place. */
  readonly place: { kind: 'header' | 'query'; name: string };
  readonly parts: readonly SlotPart[];
}

/** Headers every bearer credential is looked for in. */
export const STANDARD_HEADERS: readonly string[] = ['authorization', 'x-api-key', 'x-goog-api-key'];

/** An auth-scheme token (RFC 9110 §11.1) at the start of a string; anchored, so linear. */
const SCHEME_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

/** `lead scheme gap credential trail`: an Authorization-style value split into its parts. */
export interface SchemeParts {
  lead: string;
  scheme: string;
  gap: string;
  credential: string;
  trail: string;
}

/**
 * Splits "  Scheme  credential  " into its parts, or undefined when the value has no scheme
 * (no token followed by whitespace). Written with trimStart/trimEnd (the same whitespace as
 * \s) instead of one regex: /^(\s*)(token)(\s+)(.*?)(\s*)$/ backtracks quadratically on
 * long runs of whitespace (issue 11, item 7: 100 KiB of blanks held the event loop for seconds).
 */
export function splitScheme(value: string): SchemeParts | undefined {
  const rest = value.trimStart();
  const scheme = SCHEME_TOKEN.exec(rest)?.[0];
  if (scheme === undefined) return undefined;
  const afterScheme = rest.slice(scheme.length);
  const body = afterScheme.trimStart();
  const gap = afterScheme.slice(0, afterScheme.length - body.length);
  if (gap === '') return undefined;
  const credential = body.trimEnd();
  return { lead: value.slice(0, value.length - rest.length), scheme, gap, credential, trail: body.slice(credential.length) };
}

export function headerText(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(', ') : value;
}

/** True for an Authorization value in AWS's SigV4 form (read by aws.ts, not here). */
export function isSigV4Authorization(value: string): boolean {
  return /^\s*AWS4-/i.test(value);
}

/** "user:password" from a Basic credential, or undefined if it is not valid base64 of that. */
function decodeBasic(encoded: string): { user: string; password: string } | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return undefined;
  const text = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

function headerSlot(ex: Exchange, name: string, value: string): Slot {
  const place = { kind: 'header' as const, name };
  const where = `header ${name}`;
  const set = (next: string): void => {
    ex.headers[name] = next;
  };
  const parts = splitScheme(value);
  if (parts === undefined) {
    // No scheme: the whole value is the credential (x-api-key: KEY).
    const trimmed = value.trim();
    const lead = value.slice(0, value.length - value.trimStart().length);
    const trail = value.slice(lead.length + trimmed.length);
    return { place, parts: [{ where, value: trimmed, write: (next) => set(`${lead}${next}${trail}`) }] };
  }
  const { lead, scheme, gap, credential, trail } = parts;
  const rebuild = (next: string): string => `${lead}${scheme}${gap}${next}${trail}`;
  if (scheme.toLowerCase() === 'basic') {
    const basic = decodeBasic(credential);
    if (basic !== undefined) {
      let { user, password } = basic;
      const encode = (): void => set(rebuild(Buffer.from(`${user}:${password}`, 'utf8').toString('base64')));
      return {
        place,
        parts: [
          { where: `${where} (Basic user)`, value: user, write: (next) => { user = next; encode(); } },
          { where: `${where} (Basic password)`, value: password, write: (next) => { password = next; encode(); } },
        ],
      };
    }
  }
  return { place, parts: [{ where, value: credential, write: (next) => set(rebuild(next)) }] };
}

/** The header places present in the request among `names` (lower case), SigV4 Authorization excluded. */
export function headerSlots(ex: Exchange, names: ReadonlySet<string>): Slot[] {
  const slots: Slot[] = [];
  for (const name of names) {
    const value = headerText(ex.headers[name]);
    if (value === undefined) continue;
    if (name === 'authorization' && isSigV4Authorization(value)) continue;
    slots.push(headerSlot(ex, name, value));
  }
  return slots;
}

/** The query parameters present among `names` (compared exactly, after percent-decoding). */
export function querySlots(ex: Exchange, names: ReadonlySet<string>): Slot[] {
  const q = ex.path.indexOf('?');
  if (q < 0 || names.size === 0) return [];
  const base = ex.path.slice(0, q);
  const pairs = ex.path.slice(q + 1).split('&');
  const slots: Slot[] = [];
  pairs.forEach((pair, i) => {
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    const name = decodePercent(rawName);
    if (!names.has(name)) return;
    const value = eq < 0 ? '' : decodePercent(pair.slice(eq + 1));
    slots.push({
      place: { kind: 'query', name },
      parts: [{
        where: `query parameter ${name}`,
        value,
        write: (next) => {
          pairs[i] = `${rawName}=${encodeURIComponent(next)}`;
          ex.path = `${base}?${pairs.join('&')}`;
        },
      }],
    });
  });
  return slots;
}
