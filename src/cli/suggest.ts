// `sluice suggest [-c sluice.toml | --dir DIR] [--since DURATION]`: prints [[allow]] entries
// that would have allowed every refused or would-be-refused request in access.ndjson (learn
// and report modes, DESIGN §8), as TOML that `sluice check` accepts.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { suggestAllow, suggestionsToToml, type AccessLine } from '../audit/suggest.ts';
import { LOG_READER_OPTIONS, logDirFrom, sinceOption } from './logs.ts';

const USAGE = `usage: sluice suggest [-c FILE | --dir DIR] [--since WHEN]

Reads access.ndjson and prints the [[allow]] entries that would have allowed every request the
allowlist refused ("deny") or would have refused ("would_deny": [proxy] mode = "learn" or
"report"). Paste them into sluice.toml and run \`sluice check\`.

  -c, --config FILE  sluice.toml (its log_dir is read; default ./sluice.toml)
  --dir DIR          read the logs in DIR instead
  --since WHEN       only requests since WHEN: 30m, 2h, 7d, or a date/time (2026-05-01T12:00Z)
  -h, --help         this text
`;

export interface SuggestIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: SuggestIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

function readAccessLog(dir: string): AccessLine[] {
  const lines: AccessLine[] = [];
  for (const text of readFileSync(join(dir, 'access.ndjson'), 'utf8').split('\n')) {
    if (text === '') continue;
    try {
      lines.push(JSON.parse(text) as AccessLine);
    } catch {
      // A line cut by a crash: skip it.
    }
  }
  return lines;
}

export async function suggestCommand(argv: string[], io: SuggestIo = processIo): Promise<number> {
  let values: { config: string; dir?: string; since?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        ...LOG_READER_OPTIONS,
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (error) {
    io.err(`sluice suggest: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    io.out(USAGE);
    return 0;
  }
  const sinceOpt = sinceOption('suggest', values.since);
  if ('error' in sinceOpt) {
    io.err(sinceOpt.error);
    return 2;
  }
  const { since } = sinceOpt;
  const dir = await logDirFrom(values);
  if (!existsSync(join(dir, 'access.ndjson'))) {
    io.err(`sluice suggest: no access.ndjson in ${dir}\n`);
    return 1;
  }
  io.out(suggestionsToToml(suggestAllow(readAccessLog(dir), since)));
  return 0;
}
