// One access.ndjson line: `{"level":"info","time":…,"agent":…, …the record's fields}` and a
// newline, fields in the record's own order, undefined ones left out. The same bytes pino wrote
// for these records, at a quarter of the cost: pino's generic serialiser and a fresh ISO time
// per line were ~8 % of sluice's CPU per keep-alive request (bench profile, issue 14); one
// JSON.stringify of a record of strings and numbers is the cheapest correct serialiser, and the
// time string changes once per millisecond.
/** Formats one record (a flat object of strings, numbers and the trace array). */
export type AccessLineFormatter = (record: object) => string;

export function accessLineFormatter(agent: string): AccessLineFormatter {
  const agentJson = JSON.stringify(agent);
  let lastMs = -1;
  let prefix = '';
  return (record) => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      prefix = `{"level":"info","time":"${new Date(now).toISOString()}","agent":${agentJson}`;
    }
    const fields = JSON.stringify(record);
    // `{}` (every field undefined) adds nothing; otherwise splice the fields after the prefix.
    return fields.length > 2 ? `${prefix},${fields.slice(1)}\n` : `${prefix}}\n`;
  };
}
