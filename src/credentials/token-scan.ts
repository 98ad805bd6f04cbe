// Finds minted tokens ("sluice_mt_" BODY "." SIG43, macaroon.ts) in text the agent controls,
// in linear time. The regex /sluice_mt_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}/g matches the same
// strings but is quadratic: the prefix is itself made of body characters, so on
// "sluice_mt_" repeated, every occurrence starts a scan to the end of the run (100 KiB took
// 2 s; issue 11, item 7). Here each run of body characters is read once: a match can only end
// its body where the run ends (the "." is not a body character), so every candidate inside the
// same run shares that end and fails or succeeds with it.

const PREFIX = 'sluice_mt_';
const SIGNATURE_LENGTH = 43;

/** [A-Za-z0-9_-], by char code. */
function isBodyChar(code: number): boolean {
  return (code >= 0x61 && code <= 0x7a) || (code >= 0x41 && code <= 0x5a) || (code >= 0x30 && code <= 0x39) || code === 0x5f || code === 0x2d;
}

/** Where each token is, left to right and non-overlapping, exactly as the global regex finds them. */
export function tokenSpans(text: string): Array<{ start: number; end: number }> {
  const spans: Array<{ start: number; end: number }> = [];
  let from = 0;
  for (;;) {
    const start = text.indexOf(PREFIX, from);
    if (start < 0) return spans;
    let runEnd = start + PREFIX.length;
    while (runEnd < text.length && isBodyChar(text.charCodeAt(runEnd))) runEnd++;
    const bodyLength = runEnd - start - PREFIX.length;
    let sigEnd = runEnd + 1;
    if (bodyLength > 0 && text.charCodeAt(runEnd) === 0x2e /* . */) {
      while (sigEnd < text.length && sigEnd - runEnd - 1 < SIGNATURE_LENGTH && isBodyChar(text.charCodeAt(sigEnd))) sigEnd++;
      if (sigEnd - runEnd - 1 === SIGNATURE_LENGTH) {
        spans.push({ start, end: sigEnd });
        from = sigEnd;
        continue;
      }
    }
    // Every later "sluice_mt_" inside this run ends its body at runEnd too: skip them.
    // (A prefix that starts inside the run but ends after it is not inside the run, and is
    // found by the next indexOf.)
    from = Math.max(start + 1, runEnd - PREFIX.length + 1);
  }
}

/** The tokens in `text`, as TOKEN_PATTERN's matchAll would return them. */
export function findTokens(text: string): string[] {
  return tokenSpans(text).map(({ start, end }) => text.slice(start, end));
}

/** `text` with every token replaced by `replace(token)`, as String.replace(TOKEN_PATTERN, …). */
export function replaceTokens(text: string, replace: (token: string) => string): string {
  const spans = tokenSpans(text);
  if (spans.length === 0) return text;
  let out = '';
  let at = 0;
  for (const { start, end } of spans) {
    out += text.slice(at, start) + replace(text.slice(start, end));
    at = end;
  }
  return out + text.slice(at);
}
