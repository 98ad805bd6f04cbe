// One access.ndjson line: `{"level":"info","time":…,"agent":…, …the record's fields}` and a
// newline, fields in the record's own order, undefined ones left out. The same bytes pino wrote
// for these records (but for U+0085/U+2028/U+2029, escaped here), at a quarter of the cost: pino's generic serialiser and a fresh ISO time
// per line were ~8 % of sluice's CPU per keep-alive request (bench profile, issue 14); one
// JSON.stringify of a record of strings and numbers is the cheapest correct serialiser, and the
// time string changes once per millisecond.
/** Formats one record (a flat object of strings, numbers and the trace array) logged at `at` (ms since the epoch; now if left out). */
export type AccessLineFormatter = (record: object, at?: number) => string;

/** NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR: valid unescaped in JSON, but line breaks to
 *  readers that split on Unicode line ends (Python's str.splitlines): escaped, one line stays one. */
const UNICODE_LINE_END = /[\u0085\u2028\u2029]/;
const UNICODE_LINE_ENDS = /[\u0085\u2028\u2029]/g;
const escapeLineEnd = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

export function accessLineFormatter(agent: string): AccessLineFormatter {
  const agentJson = JSON.stringify(agent);
  let lastMs = -1;
  let prefix = '';
  return (record, at) => {
    const now = at ?? Date.now();
    if (now !== lastMs) {
      lastMs = now;
      prefix = `{"level":"info","time":"${new Date(now).toISOString()}","agent":${agentJson}`;
    }
    let fields = JSON.stringify(record);
    if (UNICODE_LINE_END.test(fields)) fields = fields.replace(UNICODE_LINE_ENDS, escapeLineEnd);
    // `{}` (every field undefined) adds nothing; otherwise splice the fields after the prefix.
    return fields.length > 2 ? `${prefix},${fields.slice(1)}\n` : `${prefix}}\n`;
  };
}
