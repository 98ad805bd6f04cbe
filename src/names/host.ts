// Host names as sluice compares and dials them. One normal form everywhere (policy, leaf cache,
// DNS, logs): lower case, no trailing dot, IDNA labels as punycode, IPv4 in dotted-quad and
// IPv6 in its canonical compressed text. The hot path (an already normal ASCII name) returns
// its input without allocating.

import { domainToASCII } from 'node:url';
import { isIP, isIPv6 } from 'node:net';

const MAX_NAME = 253;
const MAX_LABEL = 63;

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
 * A pattern from an allow rule: an exact name, or "*." followed by a name (one or more
 * labels below it). Returns the normal form or undefined.
 */
export function normalizeHostPattern(pattern: string): string | undefined {
  if (pattern.startsWith('*.')) {
    const rest = normalizeHost(pattern.slice(2));
    if (rest === undefined || isIpLiteral(rest)) return undefined;
    return rest === pattern.slice(2) ? pattern : `*.${rest}`;
  }
  return normalizeHost(pattern);
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
