// Reading the real secret values from their sources (`{ env = … }`, `{ file = … }`): the one
// reader behind `sluice check` (which reports every problem), `sluice run` and the sluice that
// `sluice sandbox` starts (which refuse to load). One set of rules, so a value `check` accepts is
// a value `run` loads: present, non-empty after trimming, at least MIN_SECRET_LENGTH characters,
// not containing (or contained in) a surrogate. No message ever contains a value.

import { readFileSync } from 'node:fs';
import { joinKey } from '../config/locate.ts';
import type { Config, Credential, SecretSource } from '../config/types.ts';

/** Shorter values would match inside ordinary text and refuse or mangle unrelated requests. */
export const MIN_SECRET_LENGTH = 8;

export type SecretField = 'secret' | 'access_key_id' | 'secret_access_key' | 'session_token';

/** One configured source, with the key path it was configured at (`credentials.aws.access_key_id`). */
export interface SecretSourceEntry {
  readonly key: string;
  readonly credential: Credential;
  readonly field: SecretField;
  readonly source: SecretSource;
}

/** One real value, with the surrogate the agent sees in its place (none for a session token). */
export interface SecretValue {
  readonly credential: Credential;
  readonly field: SecretField;
  readonly value: string;
  readonly surrogate: string | undefined;
}

/** A source that cannot be used: `message` says what is wrong, `hint` what would be valid. */
export interface SecretProblem {
  readonly key: string;
  readonly message: string;
  readonly hint: string | undefined;
}

/** Every secret source of the config, in config order. */
export function secretSources(config: Config): SecretSourceEntry[] {
  const out: SecretSourceEntry[] = [];
  for (const credential of config.credentials) {
    const base = joinKey('credentials', credential.name);
    const add = (field: SecretField, source: SecretSource): void => {
      out.push({ key: joinKey(base, field), credential, field, source });
    };
    switch (credential.type) {
      case 'bearer':
        add('secret', credential.secret);
        break;
      case 'aws':
        add('access_key_id', credential.accessKeyId);
        add('secret_access_key', credential.secretAccessKey);
        if (credential.sessionToken !== undefined) add('session_token', credential.sessionToken);
        break;
      default: {
        const unknown: never = credential;
        throw new Error(`unhandled credential type in ${JSON.stringify(unknown)}`);
      }
    }
  }
  return out;
}

function describe(source: SecretSource): string {
  return source.kind === 'env' ? `environment variable ${source.name}` : `secret file ${source.path}`;
}

const ABSENT_HINT = 'mark the source optional = true if it may be absent';

type Reading = { value: string | undefined } | { message: string; hint: string | undefined };

/** Reads one source: its trimmed value, undefined for an optional source that is absent, or why not. */
export function readSecretSource(source: SecretSource, env: Readonly<Record<string, string | undefined>>): Reading {
  let raw: string | undefined;
  if (source.kind === 'env') {
    raw = env[source.name];
  } else {
    try {
      const bytes = readFileSync(source.path);
      raw = bytes.toString('utf8');
      bytes.fill(0);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        return source.optional ? { value: undefined } : { message: `${describe(source)} does not exist`, hint: `create it, or ${ABSENT_HINT}` };
      }
      if (code === 'EISDIR') return { message: `${describe(source)} is a folder`, hint: 'valid: a readable file holding the secret' };
      if (code === 'EACCES' || code === 'EPERM') {
        return { message: `cannot read ${describe(source)} (permission denied)`, hint: 'make it readable by the user sluice runs as' };
      }
      return { message: `cannot read ${describe(source)} (${code ?? String(err)})`, hint: undefined };
    }
  }
  // An empty variable is how shells and compose files spell "not set" (AWS_SESSION_TOKEN=).
  const value = raw?.trim();
  if (value === undefined || value === '') {
    if (source.optional) return { value: undefined };
    const state = raw === undefined ? 'is not set' : 'is empty';
    const hint = source.kind === 'env' ? `set it in sluice's environment, or ${ABSENT_HINT}` : 'valid: a file holding the secret';
    return { message: `${describe(source)} ${state}`, hint };
  }
  if (value.length < MIN_SECRET_LENGTH) {
    return { message: `the value in ${describe(source)} is ${value.length} characters; sluice needs at least ${MIN_SECRET_LENGTH} to recognise it safely`, hint: undefined };
  }
  return { value };
}

function surrogatesOf(credential: Credential): string[] {
  return credential.type === 'bearer' ? [credential.surrogate] : [credential.surrogateAccessKeyId, credential.surrogateSecretAccessKey];
}

function surrogateFor(credential: Credential, field: SecretField): string | undefined {
  if (credential.type === 'bearer') return credential.surrogate;
  if (field === 'access_key_id') return credential.surrogateAccessKeyId;
  if (field === 'secret_access_key') return credential.surrogateSecretAccessKey;
  return undefined;
}

/** Reads every source of the config: the values, or every problem (each source's, then overlaps). */
export function readSecretValues(config: Config, env: Readonly<Record<string, string | undefined>>): { values: SecretValue[]; problems: SecretProblem[] } {
  const values: SecretValue[] = [];
  const problems: SecretProblem[] = [];
  for (const { key, credential, field, source } of secretSources(config)) {
    const reading = readSecretSource(source, env);
    if ('message' in reading) problems.push({ key, message: reading.message, hint: reading.hint });
    else if (reading.value !== undefined) values.push({ credential, field, value: reading.value, surrogate: surrogateFor(credential, field) });
  }
  // A secret inside a surrogate (or the reverse) would make every use of the surrogate look
  // like a leaked secret, or a swap produce a surrogate again.
  for (const v of values) {
    for (const other of config.credentials) {
      if (!surrogatesOf(other).some((s) => v.value.includes(s) || s.includes(v.value))) continue;
      problems.push({
        key: joinKey('credentials', v.credential.name),
        message: `a real secret value contains, or is contained in, the surrogate of credential "${other.name}"`,
        hint: 'use a different surrogate',
      });
    }
  }
  return { values, problems };
}

/** One problem as a line, the same for `sluice check` and a refused load: `KEY: message; hint`. */
export function describeSecretProblem(problem: SecretProblem, withKey = true): string {
  const text = problem.hint === undefined ? problem.message : `${problem.message}; ${problem.hint}`;
  return withKey ? `${problem.key}: ${text}` : text;
}
