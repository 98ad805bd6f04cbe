// Host names and host patterns: the one place that normalises and matches them. One normal form
// everywhere (policy, leaf cache, DNS, logs, credential scopes, minted tokens): lower case, no
// trailing dot, IDNA labels as punycode, IPv4 in dotted-quad and IPv6 in its canonical
// compressed text. The hot path (an already normal ASCII name) returns its input without
// allocating. Patterns ("api.example.com", "*.example.com") are held to a stricter rule than
// names on the wire: what sluice.toml, `sluice mint` and a token's caveats may write is checked
// here and explained in src/config/host-pattern.ts.

import { domainToASCII } from 'node:url';
import { isIP, isIPv6 } from 'node:net';

const MAX_NAME = 253;
const MAX_LABEL = 63;
/** A label of a pattern or a certificate: letters, digits, '_' and '-', not at either end. */
const DNS_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** True for an IPv4 or IPv6 literal (bare, without brackets or zone). */
export function isIpLiteral(name: string): boolean {
  return isIP(name) !== 0;
}

/**
 * The normal form of a bare host name or IP literal, or undefined if it is not a valid one
 * (empty, a label over 63 or a name over 253 octets, a character outside letters, digits,
 * '-', '_', or an IDNA error). No port, no brackets: see splitHostPort for Host headers.
 */
export function normalizeHost(name: string): string | undefined {
  if (name.length === 0 || name.length > 1024) return undefined;
  if (isNormalAsciiName(name)) return name;
  if (name.includes(':')) return isIPv6(name) ? canonicalIpv6(name) : undefined;
  // domainToASCII runs the WHATWG URL host parser: it would cut "a/b.com" to "a" and decode
  // "a%41" to "aa". Only letters, digits, '.', '-', '_' and non-ASCII (IDNA) may reach it.
  if (!hasOnlyNameCharacters(name)) return undefined;
  let bare = name.endsWith('.') ? name.slice(0, -1) : name;
  if (bare.length === 0) return undefined;
  // domainToASCII lower-cases, maps and punycodes IDNA labels, and turns every numeric form
  // that a resolver would read as IPv4 ("0x7f.1", "2130706433") into dotted-quad, so
  // a name never smuggles an address past classification. It returns '' when invalid.
  bare = domainToASCII(bare);
  if (bare.length === 0) return undefined;
  return hasValidLabels(bare) ? bare : undefined;
}

/**
 * Whether `name` is a DNS name in normal form whose labels a strict verifier accepts (no '-' at
 * either end of a label) and not an IPv4 form (an all-digit last label): what a leaf
 * certificate may name and what a pattern's name part must be.
 */
export function isDnsName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_NAME) return false;
  if (firstBadLabel(name) !== undefined) return false;
  return !isAllDigits(name.slice(name.lastIndexOf('.') + 1));
}

/** Why a host pattern is not valid; src/config/host-pattern.ts turns each into a sentence. */
export type HostPatternProblem =
  | { kind: 'empty' }
  /** "*" or "*.": every host. */
  | { kind: 'everything' }
  /** "*." before an IP address. */
  | { kind: 'wildcard_address' }
  /** An IPv6 address with a zone ("fe80::1%eth0"). */
  | { kind: 'address_zone' }
  /** A "*" other than a whole leading label. */
  | { kind: 'inner_star' }
  /** URL syntax or another character no host name has (scheme, port, path…). */
  | { kind: 'stray_character'; character: string }
  /** A last label a resolver would read as a number ("2130706433", "0x7f.1"). */
  | { kind: 'numeric_last_label' }
  /** IDNA refused it, or it is longer than 253 octets. */
  | { kind: 'invalid_name' }
  | { kind: 'bad_label'; label: string };

export type HostPatternCheck = { ok: true; pattern: string } | { ok: false; problem: HostPatternProblem };

/**
 * Checks one host pattern as a person writes it: an exact DNS name, an IP address, or "*."
 * followed by a DNS name (one or more labels below it). Returns the normal form, which the
 * runtime's normalizeHost produces for the same name, or the problem.
 */
export function checkHostPattern(input: string): HostPatternCheck {
  if (input === '') return { ok: false, problem: { kind: 'empty' } };
  if (input === '*' || input === '*.') return { ok: false, problem: { kind: 'everything' } };
  const wildcard = input.startsWith('*.');
  const name = wildcard ? input.slice(2) : input;
  // IP literals are exact hosts (a plain-HTTP Host header can name one); never under "*.".
  if (isIP(name) !== 0) {
    if (wildcard) return { ok: false, problem: { kind: 'wildcard_address' } };
    if (!isIPv6(name)) return { ok: true, pattern: name };
    const canonical = canonicalIpv6(name);
    return canonical === undefined ? { ok: false, problem: { kind: 'address_zone' } } : { ok: true, pattern: canonical };
  }
  if (name.includes('*')) return { ok: false, problem: { kind: 'inner_star' } };
  // domainToASCII parses a URL host, so "a/b.com" would quietly become "a": reject URL syntax first.
  const stray = STRAY_PATTERN_CHARACTER.exec(name);
  if (stray !== null) return { ok: false, problem: { kind: 'stray_character', character: stray[0] } };
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  // A numeric last label makes the URL parser read the name as an IPv4 address in some form
  // ("2130706433", "0x7f.1"): not a name, and not an address the way a person writes one.
  if (isNumericLabel(trimmed.slice(trimmed.lastIndexOf('.') + 1))) return { ok: false, problem: { kind: 'numeric_last_label' } };
  const ascii = domainToASCII(trimmed);
  if (ascii === '' || ascii.length > MAX_NAME) return { ok: false, problem: { kind: 'invalid_name' } };
  const bad = firstBadLabel(ascii);
  if (bad !== undefined) return { ok: false, problem: { kind: 'bad_label', label: bad } };
  return { ok: true, pattern: wildcard ? `*.${ascii}` : ascii };
}

/** The normal form of a host pattern, or undefined if checkHostPattern refuses it. */
export function normalizeHostPattern(pattern: string): string | undefined {
  const checked = checkHostPattern(pattern);
  return checked.ok ? checked.pattern : undefined;
}

/**
 * True when some host name matches both normal patterns ("*.x" matches one or more labels
 * below x, never x itself). With an exact name on one side: whether that name matches the other.
 */
export function hostPatternsOverlap(a: string, b: string): boolean {
  const aWild = a.startsWith('*.');
  const bWild = b.startsWith('*.');
  const aBase = aWild ? a.slice(2) : a;
  const bBase = bWild ? b.slice(2) : b;
  if (!aWild && !bWild) return a === b;
  if (aWild && !bWild) return bBase.endsWith(`.${aBase}`);
  if (!aWild && bWild) return aBase.endsWith(`.${bBase}`);
  return aBase === bBase || aBase.endsWith(`.${bBase}`) || bBase.endsWith(`.${aBase}`);
}

const STRAY_PATTERN_CHARACTER = /[^A-Za-z0-9._\-\u0080-\u{10FFFF}]/u;

function isNumericLabel(label: string): boolean {
  return /^(?:0x[0-9a-f]*|[0-9]+)$/i.test(label);
}

function isAllDigits(label: string): boolean {
  return /^[0-9]+$/.test(label);
}

/** The first label of a dotted name that is not a DNS_LABEL ('' for an empty one), or undefined. */
function firstBadLabel(name: string): string | undefined {
  return name.split('.').find((label) => !DNS_LABEL.test(label));
}

/**
 * Splits a Host header value or an authority ("example.com", "example.com:8080", "[::1]",
 * "[::1]:8080") into the normal host and the port. The host comes back bare (no brackets).
 * Undefined if the host is invalid, the port is not 1–65535, or there is userinfo or a bare
 * IPv6 address (ambiguous without brackets). An empty port ("example.com:") counts as none
 * (RFC 3986 §3.2.3).
 */
export function splitHostPort(hostHeader: string): { host: string; port: number | undefined } | undefined {
  let hostPart: string;
  let portStart: number;
  if (hostHeader.startsWith('[')) {
    const close = hostHeader.indexOf(']');
    if (close < 0) return undefined;
    hostPart = hostHeader.slice(1, close);
    if (!isIPv6(hostPart) || hostPart.includes('%')) return undefined;
    if (close + 1 === hostHeader.length) portStart = -1;
    else if (hostHeader.charCodeAt(close + 1) === 0x3a /* : */) portStart = close + 2;
    else return undefined;
  } else {
    const colon = hostHeader.indexOf(':');
    if (colon < 0) {
      hostPart = hostHeader;
      portStart = -1;
    } else {
      hostPart = hostHeader.slice(0, colon);
      portStart = colon + 1;
    }
  }
  let port: number | undefined;
  if (portStart >= 0 && portStart < hostHeader.length) {
    port = parsePort(hostHeader, portStart);
    if (port === undefined) return undefined;
  }
  const host = normalizeHost(hostPart);
  if (host === undefined) return undefined;
  return { host, port };
}

function parsePort(s: string, start: number): number | undefined {
  const len = s.length - start;
  if (len > 5) return undefined;
  let port = 0;
  for (let i = start; i < s.length; i++) {
    const c = s.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return undefined;
    port = port * 10 + c;
  }
  return port >= 1 && port <= 65535 ? port : undefined;
}

function canonicalIpv6(address: string): string | undefined {
  // A zone ("fe80::1%eth0") has no meaning in a Host header or SNI.
  if (address.includes('%')) return undefined;
  const bracketed = new URL(`http://[${address}]/`).hostname;
  return bracketed.slice(1, -1);
}

/**
 * Fast path: already lower case, only [a-z0-9_-] and dots, no trailing dot, valid lengths,
 * no punycode label (those go through domainToASCII to be validated) and a last label that
 * cannot be read as a number (those are IPv4 forms and are canonicalised).
 */
function isNormalAsciiName(name: string): boolean {
  if (name.length > MAX_NAME) return false;
  let labelStart = 0;
  for (let i = 0; i <= name.length; i++) {
    const c = i === name.length ? 0x2e : name.charCodeAt(i);
    if (c === 0x2e /* . */) {
      const len = i - labelStart;
      if (len === 0 || len > MAX_LABEL) return false;
      // "xn--" label: let domainToASCII check the punycode.
      if (len >= 4 && name.charCodeAt(labelStart + 2) === 0x2d && name.charCodeAt(labelStart + 3) === 0x2d
        && name.charCodeAt(labelStart) === 0x78 && name.charCodeAt(labelStart + 1) === 0x6e) return false;
      labelStart = i + 1;
      continue;
    }
    if (!isLdhOrUnderscore(c)) return false;
  }
  // The last label starts with a digit: possibly numeric (an IPv4 form). Slow path decides.
  const last = name.lastIndexOf('.') + 1;
  const first = name.charCodeAt(last);
  return !(first >= 0x30 && first <= 0x39);
}

function hasValidLabels(name: string): boolean {
  if (name.length > MAX_NAME) return false;
  let labelStart = 0;
  for (let i = 0; i <= name.length; i++) {
    const c = i === name.length ? 0x2e : name.charCodeAt(i);
    if (c === 0x2e) {
      const len = i - labelStart;
      if (len === 0 || len > MAX_LABEL) return false;
      labelStart = i + 1;
    } else if (!isLdhOrUnderscore(c)) {
      return false;
    }
  }
  return true;
}

function hasOnlyNameCharacters(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x80 || c === 0x2e || isLdhOrUnderscore(c | (c >= 0x41 && c <= 0x5a ? 0x20 : 0))) continue;
    return false;
  }
  return true;
}

function isLdhOrUnderscore(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f;
}
