// Percent-decoding that never throws: a malformed escape (or bytes that are not UTF-8) stays
// as written, so a scan of the decoded text sees every well-formed escape decoded and
// everything else verbatim. `plusAsSpace` reads `+` the way HTML forms write a space.
const ESCAPES = /(?:%[0-9A-Fa-f]{2})+/g;

export function decodePercent(text: string, plusAsSpace = false): string {
  const spaced = plusAsSpace ? text.replace(/\+/g, ' ') : text;
  if (!spaced.includes('%')) return spaced;
  return spaced.replace(ESCAPES, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}
