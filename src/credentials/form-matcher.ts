// Finds the needles of a ScanPattern in a decoded view: leftmost match first, the longest on a
// tie, so a scan gives the same matches however its input was cut into chunks.

import type { DecodedView } from './escape-decode.ts';

export interface FormNeedle {
  /** The bytes a match must contain, in the decoded view. */
  readonly core: Buffer;
  readonly kind: 'text' | 'base64';
  /** Base64: a partly-decided character before / after the core belongs to the match. */
  readonly partialBefore: boolean;
  readonly partialAfter: boolean;
  /** The most raw bytes a match may span; a longer candidate is not a match. */
  readonly maxRaw: number;
  /** Which of the pattern's values this is a form of. */
  readonly value: number;
}

export interface FormMatch {
  /** Decoded indices [start, end) of the match, partly-decided base64 characters included. */
  readonly start: number;
  readonly end: number;
  readonly needle: FormNeedle;
}

/** [A-Za-z0-9+/_-]: a character of either base64 alphabet. */
function isBase64Char(c: number | undefined): boolean {
  if (c === undefined) return false;
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f || c === 0x5f || c === 0x2d;
}

export interface MatchCursor {
  /** The leftmost match that starts at or after decoded index `from`; `from` never decreases. */
  next(from: number): FormMatch | undefined;
}

/** True if raw[from, to) holds a control byte (< 0x20: NUL, tab, line feed, …). */
function holdsControlByte(raw: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if ((raw[i] as number) < 0x20) return true;
  return false;
}

/**
 * `raw` is the buffer the view was decoded from. A match never contains a raw control byte (a
 * value's escaped forms never do; a value with a line break could not go in a header anyway),
 * so a scanner may release everything up to the last control byte at once (stream-replace.ts).
 */
export function createMatchCursor(needles: readonly FormNeedle[], view: DecodedView, raw: Buffer): MatchCursor {
  const bytes = view.bytes;
  const span = (start: number, end: number): number => view.rawEnd(end) - view.rawStart(start);
  /** A core spread over more raw bytes than the form allows, or over a control byte, is not a match. */
  const acceptable = (c: number, needle: FormNeedle): boolean => {
    const from = view.rawStart(c);
    const to = view.rawEnd(c + needle.core.length);
    return to - from <= needle.maxRaw && !holdsControlByte(raw, from, to);
  };
  // Next accepted core position per needle (-1: none left), found once and reused while ahead.
  // One native search per needle beats one pass in JavaScript with a table of first bytes up
  // to some 30 needles (measured); a secret has about seven forms.
  const cores = new Array<number>(needles.length).fill(-2);

  const coreAt = (i: number, from: number): number => {
    const needle = needles[i] as FormNeedle;
    let c = cores[i] as number;
    if (c === -1 || c >= from) return c;
    c = bytes.indexOf(needle.core, from);
    while (c >= 0 && !acceptable(c, needle)) c = bytes.indexOf(needle.core, c + 1);
    cores[i] = c;
    return c;
  };

  return {
    next(from) {
      let best: FormMatch | undefined;
      for (let i = 0; i < needles.length; i++) {
        const needle = needles[i] as FormNeedle;
        const c = coreAt(i, from);
        if (c < 0) continue;
        let start = c;
        let end = c + needle.core.length;
        if (needle.partialBefore && c - 1 >= from && isBase64Char(bytes[c - 1]) && span(c - 1, end) <= needle.maxRaw) start = c - 1;
        if (needle.partialAfter && isBase64Char(bytes[end]) && span(start, end + 1) <= needle.maxRaw) end += 1;
        if (best === undefined || start < best.start || (start === best.start && end > best.end)) best = { start, end, needle };
      }
      return best;
    },
  };
}
