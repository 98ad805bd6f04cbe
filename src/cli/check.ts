// `sluice check [-c sluice.toml] [--no-secrets]`: validate the config, say what it allows, and
// (unless --no-secrets) whether every secret source can be read. Exit 0 when all is well, 1 with
// `FILE:LINE: KEY: …` lines on stderr otherwise, 2 for a bad command line.

import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { ConfigError, formatIssue } from '../config/errors.ts';
import { configWarnings } from '../config/warnings.ts';
import { loadConfig } from '../config/load.ts';
import { checkSecretSources, secretSources } from '../config/secrets-check.ts';
import type { AllowRule, Config, Credential, SecretSource } from '../config/types.ts';

const USAGE = `usage: sluice check [-c FILE] [--no-secrets]
  -c, --config FILE  the config to check (default: sluice.toml)
  --no-secrets       do not check that secret sources can be read
`;

/** Surrogates are not secret, but a prefix is enough to recognise one in a summary. */
const SURROGATE_PREFIX = 8;

export async function checkCommand(argv: string[]): Promise<number> {
  let values: { config: string; secrets: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c', default: 'sluice.toml' },
        secrets: { type: 'boolean', default: true },
        help: { type: 'boolean', short: 'h' },
      },
      allowNegative: true,
      allowPositionals: false,
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`sluice check: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }

  const file = values.config;
  let config: Config;
  try {
    config = await loadConfig(file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 1;
  }
  const secretProblems = values.secrets ? checkSecretSources(config, { displayFile: file }) : [];
  if (secretProblems.length > 0) {
    process.stderr.write(`${secretProblems.join('\n')}\n`);
    return 1;
  }
  process.stdout.write(summarize(config, file, values.secrets));
  // Valid but weaker than the defaults (plaintext = true, …): said on stderr, still exit 0.
  const warnings = configWarnings(config, file, readSource(config.file));
  if (warnings.length > 0) process.stderr.write(`${warnings.map(formatIssue).join('\n')}\n`);
  return 0;
}

function readSource(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // line numbers are a convenience; the warnings are printed without them
  }
}

/** What the config allows, for a person: rules, credentials and secret sources, no secrets. */
export function summarize(config: Config, file: string, secretsChecked: boolean): string {
  const lines = [`${file} is valid (agent "${config.proxy.agent}").`, '', 'Allowed (anything else is denied):'];
  if (config.allow.length === 0) lines.push('  nothing: every request will be denied');
  for (const rule of config.allow) lines.push(`  ${describeRule(rule)}`);
  lines.push('', 'Credentials:');
  if (config.credentials.length === 0) lines.push('  none');
  for (const credential of config.credentials) lines.push(...describeCredential(credential).map((l) => `  ${l}`));
  const sources = secretSources(config).length;
  lines.push(
    '',
    secretsChecked
      ? (sources === 0 ? 'Secrets: none to read (no credential needs one).' : `Secrets: ${sources} source${sources === 1 ? '' : 's'} readable.`)
      : 'Secrets: not checked (--no-secrets).',
  );
  return `${lines.join('\n')}\n`;
}

function describeRule(rule: AllowRule): string {
  const parts = [
    `allow[${rule.index}] ${rule.host}`,
    `methods: ${rule.methods?.join(', ') ?? 'any'}`,
    `paths: ${rule.paths?.join(', ') ?? 'any'}`,
  ];
  if (rule.private) parts.push('private addresses allowed');
  if (rule.llm !== undefined) parts.push(`llm: ${rule.llm}`);
  return parts.join('  ');
}

function describeCredential(credential: Credential): string[] {
  const hosts = `hosts: ${credential.hosts.join(', ')}${credential.plaintext ? '  also over plain HTTP (plaintext = true)' : ''}`;
  switch (credential.type) {
    case 'bearer':
      return [
        `${credential.name} (bearer)  ${hosts}`,
        `  surrogate ${prefix(credential.surrogate)}  secret from ${describeSource(credential.secret)}`,
      ];
    case 'aws':
      return [
        `${credential.name} (aws)  ${hosts}`,
        `  surrogate key id ${prefix(credential.surrogateAccessKeyId)}  key id from ${describeSource(credential.accessKeyId)}` +
          `  secret key from ${describeSource(credential.secretAccessKey)}` +
          (credential.sessionToken === undefined ? '' : `  session token from ${describeSource(credential.sessionToken)}`),
      ];
    default: {
      const unknown: never = credential;
      throw new Error(`unhandled credential ${JSON.stringify(unknown)}`);
    }
  }
}

function describeSource(source: SecretSource): string {
  const where = source.kind === 'env' ? `$${source.name}` : source.path;
  return source.optional ? `${where} (optional)` : where;
}

function prefix(surrogate: string): string {
  return `${surrogate.slice(0, SURROGATE_PREFIX)}…`;
}
