// What an echoed value is replaced with: the surrogate written the way the echo was written, so
// the agent's parser reads the surrogate where it would have read the secret. A text echo that
// was percent-encoded gets a percent-encoded surrogate (every byte, or only what
// encodeURIComponent encodes; upper or lower hex as seen), a JSON-escaped one a JSON-escaped
// surrogate (`\/` or `\uXXXX` as seen). Base64 of the surrogate cannot take the place of the
// secret's base64 (the characters around it encode neighbouring bytes too), so a base64 echo
// becomes a marker of the same length, in the base64 alphabet.
//
// With `fit`, the replacement is exactly the echo's raw length (a promised Content-Length stays
// true): whole encoded characters of the surrogate while they fit, then '*'.

import type { FormNeedle } from './form-matcher.ts';

interface Style {
  scheme: 'plain' | 'percent' | 'json';
  /** Escapes characters that need none (a letter as %41 or \u0041): escape every one. */
  every: boolean;
  upper: boolean;
  /** How a JSON echo wrote "/", when it escaped it. */
  slash: string | undefined;
}

const BASE64_MARKER = 'REDACTED';

function isAlphanumeric(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function isHexLetter(c: number | undefined): boolean | undefined {
  if (c === undefined) return undefined;
  if (c >= 0x41 && c <= 0x46) return true;
  if (c >= 0x61 && c <= 0x66) return false;
  return undefined;
}

/** How the echo in `raw` was escaped (the first escape that says decides the hex case). */
function styleOf(raw: Buffer): Style {
  const style: Style = { scheme: 'plain', every: false, upper: true, slash: undefined };
  let caseSeen = false;
  const noteCase = (digits: Buffer): void => {
    for (const d of digits) {
      const upper = isHexLetter(d);
      if (upper !== undefined && !caseSeen) {
        style.upper = upper;
        caseSeen = true;
      }
    }
  };
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === 0x25 && i + 2 < raw.length) {
      const value = Number.parseInt(raw.toString('latin1', i + 1, i + 3), 16);
      if (Number.isNaN(value)) continue;
      if (style.scheme === 'plain') style.scheme = 'percent';
      if (isAlphanumeric(value)) style.every = true;
      noteCase(raw.subarray(i + 1, i + 3));
      i += 2;
    } else if (c === 0x5c && i + 1 < raw.length) {
      const next = raw[i + 1] as number;
      style.scheme = 'json';
      if (next === 0x2f) style.slash = '\\/';
      if (next === 0x75 && i + 5 < raw.length) {
        const unit = Number.parseInt(raw.toString('latin1', i + 2, i + 6), 16);
        if (unit === 0x2f) style.slash = raw.toString('latin1', i, i + 6);
        if (isAlphanumeric(unit)) style.every = true;
        noteCase(raw.subarray(i + 2, i + 6));
        i += 5;
      } else {
        i += 1;
      }
    }
  }
  return style;
}

const hex = (n: number, digits: number, upper: boolean): string => {
  const s = n.toString(16).padStart(digits, '0');
  return upper ? s.toUpperCase() : s;
};

/** One character (code point) of the replacement, written in `style`. */
function encodeChar(ch: string, style: Style): string {
  switch (style.scheme) {
    case 'plain':
      return ch;
    case 'percent': {
      if (!style.every && encodeURIComponent(ch) === ch) return ch;
      return [...Buffer.from(ch, 'utf8')].map((b) => `%${hex(b, 2, style.upper)}`).join('');
    }
    case 'json': {
      if (style.every) return [...ch].flatMap((c) => [...Array(c.length).keys()].map((k) => `\\u${hex(c.charCodeAt(k), 4, style.upper)}`)).join('');
      if (ch === '/' && style.slash !== undefined) return style.slash;
      const escaped = JSON.stringify(ch).slice(1, -1);
      return escaped.startsWith('\\u') ? `\\u${hex(ch.charCodeAt(0), 4, style.upper)}` : escaped;
    }
    default: {
      const unknown: never = style.scheme;
      throw new Error(`unhandled escape style ${String(unknown)}`);
    }
  }
}

/** The bytes that take the place of the echo `raw` of a needle's value. */
export function replacementFor(raw: Buffer, needle: FormNeedle, replacement: string, fit: boolean): Buffer {
  if (needle.kind === 'base64') return Buffer.from(BASE64_MARKER.repeat(Math.ceil(raw.length / BASE64_MARKER.length)).slice(0, raw.length), 'latin1');
  const style = styleOf(raw);
  const pieces = [...replacement].map((ch) => encodeChar(ch, style));
  if (!fit) return Buffer.from(pieces.join(''), 'utf8');
  let out = '';
  let length = 0;
  for (const piece of pieces) {
    const size = Buffer.byteLength(piece, 'utf8');
    if (length + size > raw.length) break;
    out += piece;
    length += size;
  }
  return Buffer.concat([Buffer.from(out, 'utf8'), Buffer.alloc(raw.length - length, '*')]);
}
