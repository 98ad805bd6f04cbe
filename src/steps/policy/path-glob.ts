// Path globs of allow rules: "/org/**", "/repos/*/issues", "/files/*.json".
//   - a segment that is exactly "**" matches any number of whole segments, zero included
//     ("/org/**" matches "/org", "/org/" and "/org/a/b", never "/organisation");
//   - a segment that is exactly "*" matches one non-empty segment;
//   - "*" inside a segment matches any run of characters other than '/';
//   - everything else is literal and case-sensitive; the query string is not part of the path.
// Compiled once per rule into segment tokens; matching walks the path by index, without
// regular expressions or allocation.
//
// A path a server could read differently from how we match it is never matched: dot segments
// ("/org/../admin", also percent-encoded or with ";params" as Tomcat reads "..;"), encoded
// '/' or '\' and a literal '\'. Otherwise "/org/**" would admit "/org/%2e%2e/admin".

type Token =
  | { kind: 'any' }
  | { kind: 'one' }
  | { kind: 'literal'; text: string }
  | { kind: 'star'; parts: readonly string[] };

const ANY: Token = { kind: 'any' };
const ONE: Token = { kind: 'one' };

/** Characters of glob dialects sluice does not implement, with what to write instead. */
const UNSUPPORTED: ReadonlyArray<readonly [RegExp, string]> = [
  [/\?/, '"?" is not supported (paths match the path only, not the query string)'],
  [/[[\]]/, 'character classes "[...]" are not supported'],
  [/[{}]/, 'alternatives "{a,b}" are not supported; write one path per alternative'],
  [/#/, '"#" is not supported (fragments never reach a server)'],
  [/\\/, '"\\" is not supported; paths use "/"'],
  [/[\s\p{Cc}]/u, 'whitespace and control characters are not supported'],
];

/**
 * Why a glob is not valid, or undefined if it is. The one validator for allow rules
 * (src/config/values.ts), `sluice mint --paths` and a token's `paths=` caveat
 * (src/credentials/macaroon.ts); the message quotes the glob and says what is wrong.
 */
export function pathGlobError(glob: string): string | undefined {
  const quoted = JSON.stringify(glob);
  if (!glob.startsWith('/')) return `${quoted} does not start with "/"`;
  for (const [pattern, why] of UNSUPPORTED) if (pattern.test(glob)) return `${quoted}: ${why}`;
  for (const segment of glob.slice(1).split('/')) {
    if (segment.includes('**') && segment !== '**') return `${quoted}: "**" must be a whole segment (got ${JSON.stringify(segment)})`;
    // The matcher never matches dot segments (a server would resolve them), so such a glob
    // could never allow anything.
    if (segment === '.' || segment === '..') return `${quoted}: "." and ".." segments are not supported`;
  }
  return undefined;
}

/** Compiles a glob into a matcher. Throws if pathGlobError would report an error. */
export function compilePathGlob(glob: string): (path: string) => boolean {
  const error = pathGlobError(glob);
  if (error !== undefined) throw new Error(`invalid path glob: ${error}`);
  const tokens: Token[] = glob.slice(1).split('/').map(toToken);
  return (path: string) => matchTokens(tokens, path);
}

/**
 * True if the path (query ignored) contains a dot segment, an encoded '/' or '\', or a '\':
 * forms that servers normalise differently. Exported for the HTTP layer's own checks.
 */
export function isAmbiguousPath(path: string): boolean {
  const end = pathEnd(path);
  // Fast path: nothing that could form a dot segment or an encoded separator.
  const pct = path.indexOf('%');
  const slashDot = path.indexOf('/.');
  const backslash = path.indexOf('\\');
  if ((pct < 0 || pct >= end) && (slashDot < 0 || slashDot >= end) && (backslash < 0 || backslash >= end)) return false;
  if (backslash >= 0 && backslash < end) return true;
  let segStart = 0;
  for (let i = 0; i <= end; i++) {
    const c = i === end ? 0x2f : path.charCodeAt(i);
    if (c === 0x25 /* % */ && i + 2 < end) {
      const h = path.charCodeAt(i + 1);
      const l = path.charCodeAt(i + 2) | 0x20;
      // %2f '/' and %5c '\'
      if ((h === 0x32 && l === 0x66) || (h === 0x35 && l === 0x63)) return true;
    }
    if (c === 0x2f /* / */) {
      if (isDotSegment(path, segStart, i)) return true;
      segStart = i + 1;
    }
  }
  return false;
}

function toToken(seg: string): Token {
  if (seg === '**') return ANY;
  if (seg === '*') return ONE;
  if (seg.includes('*')) return { kind: 'star', parts: seg.split('*') };
  return { kind: 'literal', text: seg };
}

function pathEnd(path: string): number {
  const q = path.indexOf('?');
  return q < 0 ? path.length : q;
}

/** "." or ".." in any mix of literal and %2e, optionally followed by ";params". */
function isDotSegment(path: string, start: number, end: number): boolean {
  const semi = path.indexOf(';', start);
  if (semi >= 0 && semi < end) end = semi;
  let dots = 0;
  let i = start;
  while (i < end) {
    if (path.charCodeAt(i) === 0x2e) {
      i += 1;
    } else if (path.charCodeAt(i) === 0x25 && i + 2 < end && path.charCodeAt(i + 1) === 0x32
      && (path.charCodeAt(i + 2) | 0x20) === 0x65) {
      i += 3;
    } else {
      return false;
    }
    dots += 1;
    if (dots > 2) return false;
  }
  return dots === 1 || dots === 2;
}

/**
 * Segment-level wildcard match: tokens other than "**" consume exactly one segment; "**"
 * consumes any number. Greedy with one backtrack point (the last "**"), which is exact for
 * this kind of pattern and linear in practice.
 */
function matchTokens(tokens: readonly Token[], path: string): boolean {
  if (path.charCodeAt(0) !== 0x2f) return false;
  const end = pathEnd(path);
  if (isAmbiguousPath(path)) return false;
  const n = tokens.length;
  let ti = 0;
  let pos = 1; // start of the current segment; end + 1 once the path is used up
  let backTi = -1;
  let backPos = -1;
  while (pos <= end) {
    let segEnd = path.indexOf('/', pos);
    if (segEnd < 0 || segEnd > end) segEnd = end;
    const token = tokens[ti];
    if (token !== undefined && token.kind === 'any') {
      backTi = ti;
      backPos = pos;
      ti += 1;
      continue;
    }
    if (token !== undefined && matchSegment(token, path, pos, segEnd)) {
      ti += 1;
      pos = segEnd + 1;
      continue;
    }
    if (backTi < 0) return false;
    // Let the last "**" swallow one more segment and retry from there.
    let swallowEnd = path.indexOf('/', backPos);
    if (swallowEnd < 0 || swallowEnd > end) swallowEnd = end;
    backPos = swallowEnd + 1;
    pos = backPos;
    ti = backTi + 1;
  }
  while (ti < n && tokens[ti]?.kind === 'any') ti += 1;
  return ti === n;
}

function matchSegment(token: Token, path: string, start: number, end: number): boolean {
  switch (token.kind) {
    case 'literal':
      return end - start === token.text.length && path.startsWith(token.text, start);
    case 'one':
      return end > start;
    case 'star':
      return matchStar(token.parts, path, start, end);
    case 'any':
      return false;
    default: {
      const never: never = token;
      return never;
    }
  }
}

/** parts = the segment glob split at '*' (at least two parts). */
function matchStar(parts: readonly string[], path: string, start: number, end: number): boolean {
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (end - start < first.length + last.length) return false;
  if (!path.startsWith(first, start) || !path.endsWith(last, end)) return false;
  let i = start + first.length;
  const limit = end - last.length;
  for (let p = 1; p < parts.length - 1; p++) {
    const part = parts[p] ?? '';
    const at = path.indexOf(part, i);
    if (at < 0 || at + part.length > limit) return false;
    i = at + part.length;
  }
  return true;
}
