// Every form in which a server commonly echoes a value, as needles for the stream scanners.
// Text forms are searched in the decoded view (escape-decode.ts), so one needle covers the
// literal value, every percent-encoding of it (upper or lower hex, encodeURIComponent's or
// every byte) and every JSON escaping (`\/`, `\uXXXX` of any character), also mixed. Base64
// forms are the characters of base64(…value…) that only the value decides, for each of the
// three offsets a value can start at inside a 3-byte group, standard and URL-safe alphabets:
// `Authorization: Basic base64(user:secret)` echoed by a TRACE holds the secret at offset
// len("user:") mod 3. The one partly-decided character on either side belongs to the match
// too (it carries up to 4 bits of the value).
//
// The window: a match may span up to `maxRaw` raw bytes (a JSON `\u0041` is 6 bytes for 1), so
// a scanner holds back the longest maxRaw − 1 bytes, plus the 11 bytes it needs to decide an
// escape at the edge, whatever the content: what it releases never depends on how close the
// bytes came to a needle (DESIGN.md §1, "Scanners reveal nothing by their timing"). Two
// exceptions, which depend on the bytes' framing and never on the values: a match never holds
// a raw control byte (form-matcher.ts), so everything up to the last one can go at once (an SSE
// event, an NDJSON line, a protobuf field tag); and a gRPC stream is released at its message
// ends (grpc-frames.ts).

import { ESCAPE_LOOKAHEAD, decodeEscapes } from './escape-decode.ts';
import type { FormNeedle } from './form-matcher.ts';

export type { FormNeedle } from './form-matcher.ts';

export interface ScanPattern {
  readonly needles: readonly FormNeedle[];
  /** Search the decoded view (true) or the raw bytes as they are. */
  readonly decode: boolean;
  /** Raw bytes a stream scanner holds back, whatever the content. */
  readonly window: number;
}

/** Raw bytes per decoded byte at most: `\u0041` → "A". */
const TEXT_RAW_PER_BYTE = 6;
/**
 * Base64 characters are plain ASCII; a match may average up to 3 raw bytes per character
 * (`%2F` for "/"), which covers percent-encoded and `\/`-escaped base64. Bounding it keeps the
 * window at the text forms' size rather than 8 × the value's length.
 */
const BASE64_RAW_PER_CHAR = 3;

/** Characters of base64(pad + value) that only the value decides, for a pad of `offset` bytes. */
function base64Core(value: Buffer, offset: number): { core: string; partialBefore: boolean; partialAfter: boolean } {
  const total = offset + value.length;
  const padded = Buffer.alloc(Math.ceil(total / 3) * 3);
  value.copy(padded, offset);
  const encoded = padded.toString('base64');
  const firstBit = 8 * offset;
  const endBit = 8 * total;
  return {
    core: encoded.slice(Math.ceil(firstBit / 6), Math.floor(endBit / 6)),
    partialBefore: firstBit % 6 !== 0,
    partialAfter: endBit % 6 !== 0,
  };
}

export interface PatternValue {
  readonly text: string;
  /** Also look for base64 forms (real secrets; not needed for surrogates). */
  readonly base64: boolean;
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** Needles for every echoed form of each value, searched in the decoded view. */
export function formsPattern(values: readonly PatternValue[], options: { ignoreCase?: boolean } = {}): ScanPattern {
  const needles: FormNeedle[] = [];
  const seen = new Set<string>();
  const add = (needle: FormNeedle): void => {
    const key = `${needle.kind}:${needle.partialBefore}:${needle.partialAfter}:${needle.core.toString('latin1')}`;
    if (needle.core.length === 0 || seen.has(key)) return;
    seen.add(key);
    needles.push(needle);
  };
  values.forEach((v, value) => {
    const text = options.ignoreCase === true ? v.text.toLowerCase() : v.text;
    const literal = Buffer.from(text, 'utf8');
    // A value that itself contains an escape (`ab%41`) decodes too; its literal echo then
    // appears decoded in the view.
    for (const core of [literal, Buffer.from(decodeEscapes(literal, 0, true).bytes)]) {
      add({ core, kind: 'text', partialBefore: false, partialAfter: false, maxRaw: TEXT_RAW_PER_BYTE * core.length, value });
    }
    if (!v.base64) return;
    const raw = Buffer.from(v.text, 'utf8');
    for (let offset = 0; offset < 3; offset++) {
      const { core, partialBefore, partialAfter } = base64Core(raw, offset);
      const chars = core.length + (partialBefore ? 1 : 0) + (partialAfter ? 1 : 0);
      for (const alphabet of [core, core.replaceAll('+', '-').replaceAll('/', '_')]) {
        const spelled = options.ignoreCase === true ? asciiLower(alphabet) : alphabet;
        add({ core: Buffer.from(spelled, 'latin1'), kind: 'base64', partialBefore, partialAfter, maxRaw: BASE64_RAW_PER_CHAR * chars, value });
      }
    }
  });
  return { needles, decode: true, window: windowFor(needles, true) };
}

/** Needles for the values exactly as they are, in the raw bytes (the surrogate swap). */
export function literalPattern(values: readonly Buffer[]): ScanPattern {
  const needles: FormNeedle[] = values
    .map((core, value) => ({ core, kind: 'text' as const, partialBefore: false, partialAfter: false, maxRaw: core.length, value }))
    .filter((n) => n.core.length > 0);
  return { needles, decode: false, window: windowFor(needles, false) };
}

function windowFor(needles: readonly FormNeedle[], decode: boolean): number {
  let longest = 0;
  for (const n of needles) longest = Math.max(longest, n.maxRaw);
  if (longest === 0) return 0;
  return longest - 1 + (decode ? ESCAPE_LOOKAHEAD : 0);
}
