// `sluice check` also asks: could sluice read every secret it is configured with? This only
// looks (is the variable set, is the file readable and non-empty); it never hands values out,
// and no message contains a value. The secrets holder reads them for real at startup.

import { readFileSync } from 'node:fs';
import { formatIssue } from './errors.ts';
import { indexKeyLines, joinKey } from './locate.ts';
import type { Config, SecretSource } from './types.ts';

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
  const env = options.env ?? process.env;
  const file = options.displayFile ?? config.file;
  const lineOf = lineFinder(config.file, options.source);
  const problems: string[] = [];
  for (const { key, source } of secretSources(config)) {
    const message = source.kind === 'env' ? checkEnv(source.name, source.optional, env) : checkFile(source.path, source.optional);
    if (message !== undefined) problems.push(formatIssue({ file, line: lineOf(key), key, message }));
  }
  return problems;
}

/** Every secret source with the key path it was configured at. */
export function secretSources(config: Config): Array<{ key: string; source: SecretSource }> {
  const out: Array<{ key: string; source: SecretSource }> = [];
  for (const credential of config.credentials) {
    const base = joinKey('credentials', credential.name);
    switch (credential.type) {
      case 'bearer':
        out.push({ key: joinKey(base, 'secret'), source: credential.secret });
        break;
      case 'aws':
        out.push({ key: joinKey(base, 'access_key_id'), source: credential.accessKeyId });
        out.push({ key: joinKey(base, 'secret_access_key'), source: credential.secretAccessKey });
        if (credential.sessionToken !== undefined) {
          out.push({ key: joinKey(base, 'session_token'), source: credential.sessionToken });
        }
        break;
      default: {
        const unknown: never = credential;
        throw new Error(`unhandled credential type in ${JSON.stringify(unknown)}`);
      }
    }
  }
  return out;
}

function checkEnv(name: string, optional: boolean, env: Readonly<Record<string, string | undefined>>): string | undefined {
  const value = env[name];
  // An empty variable is how shells and compose files spell "not set" (AWS_SESSION_TOKEN=).
  if (value === undefined || value.trim() === '') {
    if (optional) return undefined;
    const state = value === undefined ? 'is not set' : 'is empty';
    return `environment variable ${name} ${state}; set it in sluice's environment, or mark the source optional = true if it may be absent`;
  }
  return undefined;
}

function checkFile(path: string, optional: boolean): string | undefined {
  let contents: Buffer;
  try {
    contents = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return optional ? undefined : `secret file ${path} does not exist; create it, or mark the source optional = true if it may be absent`;
    }
    if (code === 'EISDIR') return `secret file ${path} is a folder; valid: a readable file holding the secret`;
    if (code === 'EACCES' || code === 'EPERM') {
      return `cannot read secret file ${path} (permission denied); make it readable by the user sluice runs as`;
    }
    return `cannot read secret file ${path} (${code ?? String(error)})`;
  }
  const empty = contents.toString('utf8').trim() === '';
  contents.fill(0);
  if (empty && !optional) return `secret file ${path} is empty; valid: a file holding the secret`;
  return undefined;
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
