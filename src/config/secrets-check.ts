// `sluice check` also asks: could sluice read every secret it is configured with? It reads them
// with the same reader `sluice run` loads them with (src/credentials/secret-sources.ts), so a
// value check accepts is one run accepts (present, long enough, not overlapping a surrogate).
// It never hands values out, and no message contains a value.

import { readFileSync } from 'node:fs';
import { formatIssue } from './errors.ts';
import { indexKeyLines } from './locate.ts';
import type { Config } from './types.ts';
import { describeSecretProblem, readSecretValues } from '../credentials/secret-sources.ts';

export { secretSources } from '../credentials/secret-sources.ts';

export interface SecretCheckOptions {
  /** The config's TOML source, for line numbers; read from config.file when absent. */
  source?: string;
  /** The file name to print (as the user wrote it); default config.file. */
  displayFile?: string;
  /** Environment to look variables up in; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Problems with the config's secret sources, one `FILE:LINE: KEY: message` line each. */
export function checkSecretSources(config: Config, options: SecretCheckOptions = {}): string[] {
  const file = options.displayFile ?? config.file;
  const lineOf = lineFinder(config.file, options.source);
  const { problems } = readSecretValues(config, options.env ?? process.env);
  return problems.map((p) => formatIssue({ file, line: lineOf(p.key), key: p.key, message: describeSecretProblem(p, false) }));
}

function lineFinder(configFile: string, source: string | undefined): (key: string) => number {
  let text = source;
  if (text === undefined) {
    try {
      text = readFileSync(configFile, 'utf8');
    } catch {
      return () => 0;
    }
  }
  const index = indexKeyLines(text);
  return (key) => index.lineOf(key);
}
