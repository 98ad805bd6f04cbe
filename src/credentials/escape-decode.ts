// The escapes a server commonly wraps an echoed value in, undone for the scanners: percent
// encoding (`%2F`, `%2f`) and JSON string escapes (`\/`, `\"`, `\\`, `\n`…, `\uXXXX` incl.
// surrogate pairs), one layer, read left to right as a JSON or URL decoder would. The scanners
// search the decoded view and map a match back to the raw bytes, so only a matched range is
// rewritten; every other byte reaches its reader exactly as it was sent.

/** One escape in the raw bytes and what it decoded to. */
interface Escape {
  /** Index of its first decoded byte in the view. */
  readonly at: number;
  readonly length: number;
  /** Index of its first raw byte in the input buffer. */
  readonly raw: number;
  readonly rawLength: number;
}

export interface DecodedView {
  /** The decoded bytes of input[from, decodedTo). */
  readonly bytes: Buffer;
  /** Raw index where decoded byte `i` starts. */
  rawStart(i: number): number;
  /** Raw index just after decoded bytes [.., i) (i may be bytes.length). */
  rawEnd(i: number): number;
  /** The end of the escape that raw index `r` falls strictly inside, or undefined. */
  escapeEndAround(r: number): number | undefined;
}

/** The longest escape (a surrogate pair, `\uD83D\uDE00`) is 12 bytes: a decision needs 11 more. */
export const ESCAPE_LOOKAHEAD = 11;

const PERCENT = 0x25;
const BACKSLASH = 0x5c;
const SHORT_ESCAPES: Readonly<Record<number, number>> = {
  0x2f: 0x2f, 0x22: 0x22, 0x5c: 0x5c, 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09,
};

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** `count` hex digits at `at`: the value, -1 if one is not hex, -2 if the input ends first. */
function hexAt(buf: Buffer, at: number, count: number): number {
  let value = 0;
  for (let k = 0; k < count; k++) {
    if (at + k >= buf.length) return -2;
    const h = hexValue(buf[at + k]);
    if (h < 0) return -1;
    value = value * 16 + h;
  }
  return value;
}

const LITERAL = -1;
const INCOMPLETE = -2;

/** Writes code point `cp` as UTF-8 at out[at]; returns the byte count. */
function writeUtf8(out: Buffer, at: number, cp: number): number {
  if (cp < 0x80) {
    out[at] = cp;
    return 1;
  }
  if (cp < 0x800) {
    out[at] = 0xc0 | (cp >> 6);
    out[at + 1] = 0x80 | (cp & 0x3f);
    return 2;
  }
  if (cp < 0x10000) {
    out[at] = 0xe0 | (cp >> 12);
    out[at + 1] = 0x80 | ((cp >> 6) & 0x3f);
    out[at + 2] = 0x80 | (cp & 0x3f);
    return 3;
  }
  out[at] = 0xf0 | (cp >> 18);
  out[at + 1] = 0x80 | ((cp >> 12) & 0x3f);
  out[at + 2] = 0x80 | ((cp >> 6) & 0x3f);
  out[at + 3] = 0x80 | (cp & 0x3f);
  return 4;
}

/**
 * The escape at buf[i] ('%' or '\\'): its raw length, with what it decodes to written at
 * out[at] and its length in `decoded[0]`; or LITERAL (not an escape); or INCOMPLETE (the input
 * ends before it can be decided). Written without allocation: it runs once per escape.
 */
function parseEscape(buf: Buffer, i: number, final: boolean, out: Buffer, at: number, decoded: number[]): number {
  const undecided = final ? LITERAL : INCOMPLETE;
  if (buf[i] === PERCENT) {
    const value = hexAt(buf, i + 1, 2);
    if (value === -2) return undecided;
    if (value < 0) return LITERAL;
    out[at] = value;
    decoded[0] = 1;
    return 3;
  }
  const next = buf[i + 1];
  if (next === undefined) return undecided;
  const short = SHORT_ESCAPES[next];
  if (short !== undefined) {
    out[at] = short;
    decoded[0] = 1;
    return 2;
  }
  if (next !== 0x75 /* u */) return LITERAL;
  const unit = hexAt(buf, i + 2, 4);
  if (unit === -2) return undecided;
  if (unit < 0 || (unit >= 0xdc00 && unit <= 0xdfff)) return LITERAL;
  if (unit < 0xd800 || unit > 0xdbff) {
    decoded[0] = writeUtf8(out, at, unit);
    return 6;
  }
  // A high surrogate decodes only with the low one after it; alone it is left as it is.
  if (i + 8 > buf.length) return undecided;
  if (buf[i + 6] !== BACKSLASH || buf[i + 7] !== 0x75) return LITERAL;
  const low = hexAt(buf, i + 8, 4);
  if (low === -2) return undecided;
  if (low < 0xdc00 || low > 0xdfff) return LITERAL;
  decoded[0] = writeUtf8(out, at, 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00));
  return 12;
}

function identityView(buf: Buffer, from: number, to: number): DecodedView {
  return {
    bytes: buf.subarray(from, to),
    rawStart: (i) => from + i,
    rawEnd: (i) => from + i,
    escapeEndAround: () => undefined,
  };
}

/**
 * Decodes buf[from..]. Unless `final`, decoding stops before an escape that the end of the
 * input leaves undecided (`%4` could be `%41`); the caller holds those bytes for the next push.
 */
export function decodeEscapes(buf: Buffer, from: number, final: boolean): DecodedView {
  let nextPercent = buf.indexOf(PERCENT, from);
  let nextBackslash = buf.indexOf(BACKSLASH, from);
  if (nextPercent < 0 && nextBackslash < 0) return identityView(buf, from, buf.length);

  // Escapes only shrink: the decoded bytes fit in the raw length (a \\u escape's 6 raw bytes
  // give at most 3; a surrogate pair's 12 give 4).
  const out = Buffer.allocUnsafe(buf.length - from);
  const escapes: Escape[] = [];
  const decoded = [0];
  let written = 0;
  let raw = from;
  let decodedTo = buf.length;
  while (raw < buf.length) {
    if (nextPercent >= 0 && nextPercent < raw) nextPercent = buf.indexOf(PERCENT, raw);
    if (nextBackslash >= 0 && nextBackslash < raw) nextBackslash = buf.indexOf(BACKSLASH, raw);
    let at = buf.length;
    if (nextPercent >= 0) at = nextPercent;
    if (nextBackslash >= 0 && nextBackslash < at) at = nextBackslash;
    written += buf.copy(out, written, raw, at);
    raw = at;
    if (at >= buf.length) break;
    const rawLength = parseEscape(buf, at, final, out, written, decoded);
    if (rawLength === INCOMPLETE) {
      decodedTo = at;
      break;
    }
    if (rawLength === LITERAL) {
      out[written++] = buf[at] as number;
      raw = at + 1;
      continue;
    }
    const length = decoded[0] as number;
    escapes.push({ at: written, length, raw: at, rawLength });
    written += length;
    raw = at + rawLength;
  }
  const bytes = out.subarray(0, written);
  if (escapes.length === 0) return identityView(buf, from, decodedTo);

  /** The last escape that starts at or before decoded index i, or -1. */
  const escapeBefore = (i: number): number => {
    let lo = 0;
    let hi = escapes.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((escapes[mid] as Escape).at <= i) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  };
  const toRaw = (i: number, inside: (e: Escape) => number): number => {
    const k = escapeBefore(i);
    if (k < 0) return from + i;
    const e = escapes[k] as Escape;
    if (i < e.at + e.length) return inside(e);
    return e.raw + e.rawLength + (i - e.at - e.length);
  };
  return {
    bytes,
    rawStart: (i) => toRaw(i, (e) => e.raw),
    rawEnd: (i) => toRaw(i, (e) => (i === e.at ? e.raw : e.raw + e.rawLength)),
    escapeEndAround(r) {
      // The last escape that starts before r (escapes are in raw order too).
      let lo = 0;
      let hi = escapes.length - 1;
      let found: Escape | undefined;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const e = escapes[mid] as Escape;
        if (e.raw < r) {
          found = e;
          lo = mid + 1;
        } else {
          hi = mid - 1;
        }
      }
      return found !== undefined && r < found.raw + found.rawLength ? found.raw + found.rawLength : undefined;
    },
  };
}
