// Finding and replacing byte strings in a stream whose chunks may split them anywhere. Used for
// request bodies (surrogate → secret, real-secret detection) and response bodies (secret →
// surrogate). Instances are made by the secret store; this module itself holds no values.
//
// Sliding window: after each chunk only the longest suffix that could still be the start of a
// needle is held back (usually nothing), so streams such as SSE are not delayed by a fixed
// window, and a needle is never released half-way: a needle that starts in the released part
// is always wholly inside the bytes already seen.

const EMPTY = Buffer.alloc(0);

interface Match {
  at: number;
  which: number;
}

/** The leftmost occurrence of any needle at or after `from` (the longest needle on a tie). */
function earliestMatch(buf: Buffer, needles: readonly Buffer[], from: number): Match | undefined {
  let best: Match | undefined;
  for (let i = 0; i < needles.length; i++) {
    const needle = needles[i] as Buffer;
    const at = buf.indexOf(needle, from);
    if (at < 0) continue;
    if (best === undefined || at < best.at || (at === best.at && needle.length > (needles[best.which] as Buffer).length)) {
      best = { at, which: i };
    }
  }
  return best;
}

/** Length of the longest suffix of buf[from..] that is a proper prefix of some needle. */
function partialTail(buf: Buffer, needles: readonly Buffer[], from: number, maxNeedle: number): number {
  const longest = Math.min(maxNeedle - 1, buf.length - from);
  for (let k = longest; k > 0; k--) {
    const start = buf.length - k;
    const first = buf[start];
    for (const needle of needles) {
      if (needle.length <= k || needle[0] !== first) continue;
      if (buf.compare(needle, 0, k, start, buf.length) === 0) return k;
    }
  }
  return 0;
}

function maxLength(needles: readonly Buffer[]): number {
  let max = 0;
  for (const n of needles) if (n.length > max) max = n.length;
  return max;
}

export interface StreamReplacer {
  /** Bytes that can be released now (the input buffer itself when nothing changed or was held). */
  push(chunk: Buffer): Buffer;
  /** Whatever was still held back. */
  end(): Buffer;
  /** How many replacements were made so far. */
  readonly replaced: number;
}

/** Replaces every `from` by its `to`, across chunk boundaries. Empty `from`s are ignored. */
export function createStreamReplacer(pairs: ReadonlyArray<{ from: Buffer; to: Buffer }>): StreamReplacer {
  const usable = pairs.filter((p) => p.from.length > 0);
  const needles = usable.map((p) => p.from);
  const replacements = usable.map((p) => p.to);
  const maxNeedle = maxLength(needles);
  let held = EMPTY;
  let replaced = 0;
  return {
    get replaced() {
      return replaced;
    },
    push(chunk) {
      if (needles.length === 0) return chunk;
      const buf = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
      const parts: Buffer[] = [];
      let pos = 0;
      for (let m = earliestMatch(buf, needles, 0); m !== undefined; m = earliestMatch(buf, needles, pos)) {
        parts.push(buf.subarray(pos, m.at), replacements[m.which] as Buffer);
        replaced++;
        pos = m.at + (needles[m.which] as Buffer).length;
      }
      const tail = partialTail(buf, needles, pos, maxNeedle);
      held = tail === 0 ? EMPTY : Buffer.from(buf.subarray(buf.length - tail));
      if (parts.length === 0 && tail === 0) return buf;
      parts.push(buf.subarray(pos, buf.length - tail));
      return Buffer.concat(parts);
    },
    end() {
      const rest = held;
      held = EMPTY;
      return rest;
    },
  };
}

export type ScanResult = { found: number } | { pass: Buffer };

export interface StreamScanner {
  /** `found`: index of the needle seen (nothing of it was released); otherwise the bytes to pass on. */
  push(chunk: Buffer): ScanResult;
  end(): Buffer;
}

/** Watches a stream for any needle, holding back only what could be the start of one. */
export function createStreamScanner(needles: readonly Buffer[]): StreamScanner {
  const usable = needles.map((n, i) => ({ n, i })).filter((x) => x.n.length > 0);
  const list = usable.map((x) => x.n);
  const maxNeedle = maxLength(list);
  let held = EMPTY;
  return {
    push(chunk) {
      if (list.length === 0) return { pass: chunk };
      const buf = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
      const m = earliestMatch(buf, list, 0);
      if (m !== undefined) return { found: (usable[m.which] as { i: number }).i };
      const tail = partialTail(buf, list, 0, maxNeedle);
      held = tail === 0 ? EMPTY : Buffer.from(buf.subarray(buf.length - tail));
      return { pass: tail === 0 ? buf : buf.subarray(0, buf.length - tail) };
    },
    end() {
      const rest = held;
      held = EMPTY;
      return rest;
    },
  };
}
