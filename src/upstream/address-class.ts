// Which special-purpose range an address falls in, so that sluice never dials one for a host
// without `private = true`. Sources: the IANA IPv4 and IPv6 Special-Purpose Address
// Registries (RFC 6890 and updates), RFC 6052/8215 (NAT64), RFC 3056 (6to4), RFC 4380
// (Teredo), RFC 9637 (3fff::/20), RFC 9602 (5f00::/16).
//
// IPv6 outside global unicast (2000::/3) is refused as a whole unless it is one of the forms
// that embed an IPv4 address; those are judged by the embedded address, because the kernel or
// a translator delivers them to it (::ffff:127.0.0.1 is loopback on a dual-stack socket).
// Parsing is by hand into a reused buffer: no regex, no allocation for a public address.

import { isIPv6 } from 'node:net';

export const PRIVATE_RFC1918 = 'private (RFC 1918)';

/** [first, last, name] as unsigned 32-bit integers; checked in order, most specific first. */
const V4_RANGES: readonly (readonly [number, number, string])[] = [
  v4Range('0.0.0.0', 32, 'unspecified'),
  v4Range('0.0.0.0', 8, 'this network'),
  v4Range('10.0.0.0', 8, PRIVATE_RFC1918),
  v4Range('100.64.0.0', 10, 'CGNAT'),
  v4Range('127.0.0.0', 8, 'loopback'),
  v4Range('169.254.0.0', 16, 'link-local'),
  v4Range('172.16.0.0', 12, PRIVATE_RFC1918),
  v4Range('192.0.0.0', 24, 'IETF protocol assignments'),
  v4Range('192.0.2.0', 24, 'documentation'),
  v4Range('192.88.99.0', 24, 'reserved (6to4 relay anycast)'),
  v4Range('192.168.0.0', 16, PRIVATE_RFC1918),
  v4Range('198.18.0.0', 15, 'benchmarking'),
  v4Range('198.51.100.0', 24, 'documentation'),
  v4Range('203.0.113.0', 24, 'documentation'),
  v4Range('224.0.0.0', 4, 'multicast'),
  v4Range('255.255.255.255', 32, 'broadcast'),
  v4Range('240.0.0.0', 4, 'reserved'),
];

/** Reused parse buffer for IPv6 (eight 16-bit words). Single-threaded and synchronous. */
const words = new Uint16Array(8);

/**
 * The name of the special-purpose range `ip` falls in, or undefined for a public address.
 * Anything that is not an IP address is classified 'not an IP address' (never "public").
 */
export function classifyAddress(ip: string): string | undefined {
  const v4 = parseV4Strict(ip);
  if (v4 >= 0) return classifyV4(v4);
  if (!isIPv6(ip)) return 'not an IP address';
  // fe80::1%eth0: the zone says nothing about the range.
  const zone = ip.indexOf('%');
  if (!parseV6(zone < 0 ? ip : ip.slice(0, zone))) return 'not an IP address';
  return classifyV6();
}

function classifyV4(n: number): string | undefined {
  for (const [first, last, name] of V4_RANGES) if (n >= first && n <= last) return name;
  return undefined;
}

/** Classifies the address in `words`. */
function classifyV6(): string | undefined {
  const w0 = words[0] ?? 0;
  const w1 = words[1] ?? 0;
  const w2 = words[2] ?? 0;
  const zero2to4 = w2 === 0 && (words[3] ?? 0) === 0 && (words[4] ?? 0) === 0;
  const v4Low = (((words[6] ?? 0) << 16) | (words[7] ?? 0)) >>> 0;

  if (w0 === 0 && w1 === 0 && zero2to4) {
    const w5 = words[5] ?? 0;
    if (w5 === 0xffff) return embedded(v4Low, 'IPv4-mapped');
    if (w5 === 0) {
      if (v4Low === 0) return 'unspecified';
      if (v4Low === 1) return 'loopback';
      return embedded(v4Low, 'IPv4-compatible');
    }
    return 'reserved';
  }
  if (w0 === 0x0064 && w1 === 0xff9b) {
    if (zero2to4 && (words[5] ?? 0) === 0) return embedded(v4Low, 'NAT64');
    // Local-use NAT64 (RFC 8215) may embed the IPv4 address at several offsets; only the /96
    // form 64:ff9b:1::/96 has an unambiguous one. Every other address there is refused.
    if (w2 === 0x0001 && (words[3] ?? 0) === 0 && (words[4] ?? 0) === 0 && (words[5] ?? 0) === 0) {
      return embedded(v4Low, 'local-use NAT64');
    }
    return w2 === 0x0001 ? 'local-use NAT64' : 'reserved';
  }
  if (w0 === 0x0100 && w1 === 0 && w2 === 0 && (words[3] ?? 0) === 0) return 'discard-only';
  if ((w0 & 0xfe00) === 0xfc00) return 'ULA';
  if ((w0 & 0xffc0) === 0xfe80) return 'link-local';
  if ((w0 & 0xffc0) === 0xfec0) return 'site-local (deprecated)';
  if ((w0 & 0xff00) === 0xff00) return 'multicast';
  if (w0 === 0x5f00) return 'SRv6 SID';
  // Everything else outside global unicast 2000::/3 is unassigned or reserved by the IETF.
  if ((w0 & 0xe000) !== 0x2000) return 'reserved';

  if (w0 === 0x2001) {
    if (w1 === 0x0db8) return 'documentation';
    // Teredo: 2001:0:server:flags:port:client, the client's IPv4 address inverted bit by bit.
    if (w1 === 0) return embedded(~v4Low >>> 0, 'Teredo');
    if (w1 === 0x0002 && w2 === 0) return 'benchmarking';
    // The rest of 2001::/23 (IETF protocol assignments: ORCHID, AMT, AS112 …) hosts no
    // HTTPS service an agent needs; refusing it all is the closed choice.
    if (w1 < 0x0200) return 'IETF protocol assignments';
    return undefined;
  }
  if (w0 === 0x2002) return embedded((((w1 << 16) | w2) >>> 0), '6to4');
  if (w0 === 0x3fff && (w1 & 0xf000) === 0) return 'documentation';
  return undefined;
}

/** The embedded IPv4 address's class, named with the form that carried it. */
function embedded(v4: number, form: string): string | undefined {
  const inner = classifyV4(v4);
  return inner === undefined ? undefined : `${inner} via ${form} (${formatV4(v4)})`;
}

function v4Range(base: string, prefix: number, name: string): readonly [number, number, string] {
  const first = parseV4(base, 0, base.length);
  const size = prefix === 0 ? 0x1_0000_0000 : 2 ** (32 - prefix);
  return [first, first + size - 1, name];
}

/** Dotted quad (already validated) at text[start, end) to an unsigned 32-bit integer. */
function parseV4(text: string, start: number, end: number): number {
  let value = 0;
  let octet = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      value = value * 256 + octet;
      octet = 0;
    } else {
      octet = octet * 10 + (c - 0x30);
    }
  }
  return value * 256 + octet;
}

/** Dotted quad to an unsigned 32-bit integer, or -1 unless exactly four decimal octets (no leading zeros). */
function parseV4Strict(text: string): number {
  if (text.length < 7 || text.length > 15) return -1;
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i === text.length ? 0x2e : text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || octet > 255 || (digits > 1 && text.charCodeAt(i - digits) === 0x30)) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots += 1;
    } else if (c >= 0x30 && c <= 0x39) {
      octet = octet * 10 + (c - 0x30);
      digits += 1;
      if (digits > 3) return -1;
    } else {
      return -1;
    }
  }
  return dots === 4 ? value : -1;
}

function formatV4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/**
 * Parses an address that net.isIPv6 accepted into `words`. Returns false if the text is in
 * a shape this parser does not know (not expected after isIPv6; fails closed).
 */
function parseV6(text: string): boolean {
  words.fill(0);
  let end = text.length;
  let total = 8;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) >= 0) {
    // A trailing dotted quad ("::ffff:1.2.3.4") fills the last two words.
    const v4 = parseV4(text, lastColon + 1, end);
    words[6] = v4 >>> 16;
    words[7] = v4 & 0xffff;
    total = 6;
    end = lastColon + 1;
    // Keep a "::" before the quad ("::1.2.3.4"), drop a single separating ':' ("::ffff:…").
    if (!(end >= 2 && text.charCodeAt(end - 2) === 0x3a)) end -= 1;
  }
  const gap = text.indexOf('::');
  if (gap < 0 || gap >= end) return parseGroups(text, 0, end, 0) === total;
  const left = parseGroups(text, 0, gap, 0);
  const rightCount = countGroups(text, gap + 2, end);
  if (left < 0 || rightCount < 0 || left + rightCount >= total) return false;
  return parseGroups(text, gap + 2, end, total - rightCount) === rightCount;
}

/** Number of ':'-separated groups in text[start, end); 0 for an empty range. */
function countGroups(text: string, start: number, end: number): number {
  if (start >= end) return 0;
  let n = 1;
  for (let i = start; i < end; i++) if (text.charCodeAt(i) === 0x3a) n += 1;
  return n;
}

/** Parses groups of text[start, end) into words from index `at`; their count, or -1. */
function parseGroups(text: string, start: number, end: number, at: number): number {
  if (start >= end) return 0;
  let n = 0;
  let value = 0;
  let digits = 0;
  for (let i = start; i <= end; i++) {
    const c = i === end ? 0x3a : text.charCodeAt(i);
    if (c === 0x3a) {
      if (digits === 0 || at + n > 7) return -1;
      words[at + n] = value;
      n += 1;
      value = 0;
      digits = 0;
      continue;
    }
    const h = hexValue(c);
    if (h < 0 || ++digits > 4) return -1;
    value = value * 16 + h;
  }
  return n;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}
