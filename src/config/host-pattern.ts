// Host patterns as written in sluice.toml: an exact DNS name or "*.suffix". Normalised the way
// names arrive on the wire (lower case, no trailing dot, IDNA A-labels) so the matcher compares
// strings only. NOTE: src/names/host.ts (normalizeHost) does the same for names seen at runtime;
// the two should be merged into one helper.

import { isIP, isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';

export type HostPatternResult = { ok: true; pattern: string } | { ok: false; reason: string };

const EXAMPLE = 'write a DNS name like "api.example.com" or "*.example.com"';
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Validates and normalises one host pattern; `reason` says what is wrong and what is valid. */
export function parseHostPattern(input: string): HostPatternResult {
  if (input === '') return { ok: false, reason: `empty host; ${EXAMPLE}` };
  if (input === '*' || input === '*.') {
    return { ok: false, reason: `"*" would allow every host; ${EXAMPLE}` };
  }
  const wildcard = input.startsWith('*.');
  const name = wildcard ? input.slice(2) : input;
  // IP literals are exact hosts (a plain-HTTP Host header can name one); never under "*.".
  if (isIP(name) !== 0) {
    if (wildcard) return { ok: false, reason: `${JSON.stringify(input)}: "*." needs a DNS name, not an IP address` };
    return { ok: true, pattern: isIPv6(name) ? canonicalIpv6(name) : name };
  }
  if (name.includes('*')) {
    return {
      ok: false,
      reason: `${JSON.stringify(input)}: "*" is only valid as a whole leading label ("*.example.com" matches one or more labels)`,
    };
  }
  // domainToASCII parses a URL host, so "a/b.com" would quietly become "a": reject URL syntax first.
  const stray = /[^A-Za-z0-9._\-\u0080-\u{10FFFF}]/u.exec(name);
  if (stray !== null) {
    return {
      ok: false,
      reason: `${JSON.stringify(input)} contains ${JSON.stringify(stray[0])}; write the host name only, without scheme, port or path (${EXAMPLE})`,
    };
  }
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  // A numeric last label makes the URL parser read the name as an IPv4 address in some form
  // ("2130706433", "0x7f.1"): not a name, and not an address the way a person writes one.
  if (/^(?:0x[0-9a-f]*|[0-9]+)$/i.test(trimmed.slice(trimmed.lastIndexOf('.') + 1))) {
    return {
      ok: false,
      reason: `${JSON.stringify(input)} ends in a number, so it is not a host name; write an IP address as "10.0.0.5" or a DNS name like "api.example.com"`,
    };
  }
  const ascii = domainToASCII(trimmed);
  if (ascii === '' || ascii.length > 253) {
    return { ok: false, reason: `${JSON.stringify(input)} is not a valid DNS name; ${EXAMPLE}` };
  }
  const labels = ascii.split('.');
  const bad = labels.find((label) => !LABEL.test(label));
  if (bad !== undefined) {
    const what = bad === '' ? 'an empty label' : `the label ${JSON.stringify(bad)}`;
    return {
      ok: false,
      reason: `${JSON.stringify(input)} has ${what}; labels are 1-63 letters, digits, "-" or "_", not starting or ending with "-"`,
    };
  }
  return { ok: true, pattern: wildcard ? `*.${ascii}` : ascii };
}

function canonicalIpv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** True when some host name matches both normalised patterns ("*.x" matches one or more labels). */
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
