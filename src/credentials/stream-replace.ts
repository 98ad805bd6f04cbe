// Finding and replacing values in a stream whose chunks may split them anywhere: request bodies
// (surrogate → secret; the watch for real secrets) and responses from credential hosts
// (secret → surrogate, in every echoed form). Instances are made by the secret store; this
// module itself holds no values.
//
// Fixed window: after each push exactly the last `pattern.window` raw bytes of the input are
// held back, whatever they are. The first version held back only the longest suffix that could
// start a needle, so the number of bytes let through told an agent whether its bytes were a
// prefix of a real secret: a byte-by-byte oracle (issue 11, item 1). Now the byte counts depend
// only on the chunk lengths and framing, until a whole needle is replaced (which the reader
// sees anyway).
// The window is at least as long as any match, so a match starting in the released part is
// always wholly inside the bytes already seen, and is never released half-way. Bytes up to the
// last control byte, and a gRPC stream's complete messages, go at once (releaseLimit).
//
// Overlapping matches (`overlaps`, the scrub of real values): two values may share a run of
// bytes (the end of one is the start of the other), and an echo may hold them overlapped. Every
// match is visited by where it starts, and the part of one that runs past the last replacement
// (a tail) is replaced too, by no more bytes than it had, so no byte of either value passes and
// nothing is amplified. A replacement that runs into the window is released whole; the held
// window then starts with bytes already replaced (`emitted`), kept so that a match starting
// inside them and ending further on is still seen as an overlap. A match that starts inside the
// window waits for a later push, when all of it is in view, overlap or not. Without `overlaps`
// (the surrogate swap) matches are taken one after another, as split/join would.
//
// `flush()` releases the window mid-stream, as `end()` does, and the stream goes on: for a
// caller that sees the input fall idle (a gRPC message waiting for its reply), so an
// interactive stream is not held until more bytes come. When to call it may depend on time,
// never on the content: a scanner itself never flushes.

import { decodeEscapes, type DecodedView } from './escape-decode.ts';
import { createMatchCursor } from './form-matcher.ts';
import type { FormNeedle, ScanPattern } from './secret-forms.ts';
import type { FrameTracker } from './grpc-frames.ts';

const EMPTY = Buffer.alloc(0);

/**
 * Where this push's release stops: `window` bytes before the end, or after the last control
 * byte (< 0x20), or at the last message end the framing knows, whichever is latest. A match
 * never holds a control byte (form-matcher.ts), so none spans the last one, nor a gRPC message
 * end (the next message starts with its flag byte, 0 or 1): no match is cut. All three depend
 * on the bytes' length and framing, never on how close they came to a needle.
 */
function releaseLimit(pattern: ScanPattern, buf: Buffer, final: boolean, frameEnd: number): number {
  if (final) return buf.length;
  const byWindow = buf.length - pattern.window;
  let limit = Math.max(byWindow, frameEnd);
  for (let i = buf.length - 1; i >= limit; i--) {
    if ((buf[i] as number) < 0x20) {
      limit = i + 1;
      break;
    }
  }
  return limit;
}

function viewOf(pattern: ScanPattern, buf: Buffer, from: number, final: boolean): DecodedView {
  if (pattern.decode) return decodeEscapes(buf, from, final);
  return { bytes: buf.subarray(from), rawStart: (i) => from + i, rawEnd: (i) => from + i, escapeEndAround: () => undefined };
}

/**
 * The bytes that replace one match (`raw`: the match as it was in the input). With `tail`,
 * `raw` is only the part of a match that runs past the previous replacement (it overlapped
 * it), and the result must be no longer than `raw`.
 */
export type Replacement = (raw: Buffer, needle: FormNeedle, tail: boolean) => Buffer;

export interface StreamReplacer {
  /** Bytes that can be released now. */
  push(chunk: Buffer): Buffer;
  /** Everything still held back, with its matches replaced. */
  end(): Buffer;
  /** Like end(), but the stream goes on: the next push starts afresh. */
  flush(): Buffer;
  /** How many replacements were made so far. */
  readonly replaced: number;
}

/** Held input: the last `window` bytes, some of which may have been decided already. */
interface Held {
  bytes: Buffer;
  /** Raw bytes at the start that are the tail of an escape decided in an earlier push. */
  skip: number;
  /** Raw bytes at the start already released, as part of a replacement that ran past the limit. */
  emitted: number;
}

const NOTHING_HELD: Held = { bytes: EMPTY, skip: 0, emitted: 0 };

/** Where the next push resumes: at `limit`; the first `emitted` bytes from there are out already. */
function holdFrom(buf: Buffer, view: DecodedView, at: number, emitted: number): Held {
  if (at >= buf.length) return NOTHING_HELD;
  const escapeEnd = view.escapeEndAround(at);
  // Copied: the caller may reuse the chunk's memory once push returns.
  return { bytes: Buffer.from(buf.subarray(at)), skip: escapeEnd === undefined ? 0 : escapeEnd - at, emitted: Math.max(0, emitted) };
}

/**
 * Releases buf[0, limit) when no decision is due (limit is still inside the tail of an escape
 * decided earlier, or not past the start): those bytes are passed on as they are, but for any
 * already released.
 */
function splitInsideSkip(held: Held, buf: Buffer, limit: number): { rest: Held; released: Buffer } {
  const cut = Math.max(0, limit);
  const rest = { bytes: Buffer.from(buf.subarray(cut)), skip: held.skip - cut, emitted: Math.max(0, held.emitted - cut) };
  const from = Math.min(held.emitted, cut);
  return { rest, released: from === cut ? EMPTY : buf.subarray(from, cut) };
}

export interface StreamOptions {
  /** The stream's message framing (gRPC), to release whole messages at once. */
  frames?: FrameTracker;
  /** Replace the tail of a match that overlaps the previous one too (the replacer; see above). */
  overlaps?: boolean;
}

/** Follows the stream's offsets for the framing: where, in this push's buffer, a message ended. */
function framing(options: StreamOptions): { push(chunk: Buffer): void; endIn(buf: Buffer): number } {
  let total = 0;
  return {
    push(chunk) {
      total += chunk.length;
      options.frames?.push(chunk);
    },
    endIn(buf) {
      if (options.frames === undefined) return 0;
      return Math.max(0, options.frames.lastEnd - (total - buf.length));
    },
  };
}

/** Replaces every match of the pattern by `replacement(match)`, across chunk boundaries. */
export function createStreamReplacer(pattern: ScanPattern, replacement: Replacement, options: StreamOptions = {}): StreamReplacer {
  let held: Held = NOTHING_HELD;
  let replaced = 0;
  const frames = framing(options);
  const overlaps = options.overlaps === true;
  const releaseInsideSkip = (buf: Buffer, limit: number): Buffer => {
    const { rest, released } = splitInsideSkip(held, buf, limit);
    held = rest;
    return released;
  };

  const run = (buf: Buffer, final: boolean): Buffer => {
    const frameEnd = frames.endIn(buf);
    const limit = releaseLimit(pattern, buf, final, frameEnd);
    if (limit <= held.skip) return releaseInsideSkip(buf, limit);
    // At a message end the next byte is a control byte: escapes there are decided.
    const view = viewOf(pattern, buf, held.skip, final || frameEnd === buf.length);
    const cursor = createMatchCursor(pattern.needles, view, buf);
    const parts: Buffer[] = [];
    // Everything before rawPos is out: released earlier, or replaced in this push.
    let rawPos = held.emitted;
    let from = 0;
    for (let m = cursor.next(from); m !== undefined; m = cursor.next(from)) {
      const start = view.rawStart(m.start);
      // Starting in the window: decided in a later push, with all of it in view.
      if (start >= limit) break;
      const end = view.rawEnd(m.end);
      if (start < rawPos) {
        // It overlaps the last replacement (or bytes released before this push).
        from = m.start + 1;
        if (!overlaps || end <= rawPos) continue;
        parts.push(replacement(buf.subarray(rawPos, end), m.needle, true));
      } else {
        // With overlaps, every start is visited, not only those after this match's end.
        from = overlaps ? m.start + 1 : m.end;
        parts.push(buf.subarray(rawPos, start), replacement(buf.subarray(start, end), m.needle, false));
      }
      replaced++;
      rawPos = end;
    }
    const releaseTo = Math.max(rawPos, limit);
    parts.push(buf.subarray(rawPos, releaseTo));
    held = holdFrom(buf, view, limit, rawPos - limit);
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  };

  const end = (): Buffer => (held.bytes.length === 0 ? EMPTY : run(held.bytes, true));

  return {
    get replaced() {
      return replaced;
    },
    push(chunk) {
      if (pattern.needles.length === 0) return chunk;
      frames.push(chunk);
      return run(held.bytes.length === 0 ? chunk : Buffer.concat([held.bytes, chunk]), false);
    },
    end,
    flush: end,
  };
}

/** Replaces every match in one whole text (headers, a reason phrase, a log line). */
export function replaceAll(pattern: ScanPattern, input: Buffer, replacement: Replacement, options: Pick<StreamOptions, 'overlaps'> = {}): Buffer {
  const replacer = createStreamReplacer(pattern, replacement, options);
  const head = replacer.push(input);
  const rest = replacer.end();
  return rest.length === 0 ? head : Buffer.concat([head, rest]);
}

export type ScanResult = { found: FormNeedle } | { pass: Buffer };

export interface StreamScanner {
  /** `found`: a needle seen (none of its bytes released); otherwise the bytes to pass on. */
  push(chunk: Buffer): ScanResult;
  /** The rest, or the needle found in it. */
  end(): ScanResult;
  /** Like end(), but the stream goes on. */
  flush(): ScanResult;
}

/** Watches a stream for any needle, with the same fixed window as the replacer. */
export function createStreamScanner(pattern: ScanPattern, options: StreamOptions = {}): StreamScanner {
  let held: Held = NOTHING_HELD;
  const frames = framing(options);

  const run = (buf: Buffer, final: boolean): ScanResult => {
    const frameEnd = frames.endIn(buf);
    const limit = releaseLimit(pattern, buf, final, frameEnd);
    const view = viewOf(pattern, buf, held.skip, final || frameEnd === buf.length);
    // Any whole match refuses the stream at once: a complete secret reveals nothing by being found.
    const m = createMatchCursor(pattern.needles, view, buf).next(0);
    if (m !== undefined) return { found: m.needle };
    if (limit <= held.skip) {
      const { rest, released } = splitInsideSkip(held, buf, limit);
      held = rest;
      return { pass: released };
    }
    held = holdFrom(buf, view, limit, 0);
    return { pass: buf.subarray(0, limit) };
  };

  const end = (): ScanResult => (held.bytes.length === 0 ? { pass: EMPTY } : run(held.bytes, true));

  return {
    push(chunk) {
      if (pattern.needles.length === 0) return { pass: chunk };
      frames.push(chunk);
      return run(held.bytes.length === 0 ? chunk : Buffer.concat([held.bytes, chunk]), false);
    },
    end,
    flush: end,
  };
}

/** The first needle found in one whole text, or undefined. */
export function findIn(pattern: ScanPattern, input: Buffer): FormNeedle | undefined {
  if (pattern.needles.length === 0 || input.length === 0) return undefined;
  const view = viewOf(pattern, input, 0, true);
  return createMatchCursor(pattern.needles, view, input).next(0)?.needle;
}
