// Percent-decoding that never throws: a malformed escape stays as it is, so a scan of the
// decoded URL sees every well-formed escape decoded and everything else verbatim.

const ESCAPES = /(?:%[0-9A-Fa-f]{2})+/g;

export function decodePercent(text: string): string {
  if (!text.includes('%')) return text;
  return text.replace(ESCAPES, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}
