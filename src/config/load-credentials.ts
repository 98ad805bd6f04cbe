// [credentials.NAME] tables: bearer and aws credentials, plus the checks that span them
// (unique surrogates, hosts an allow rule admits). Split from load.ts to keep each file small.

import { DEFAULTS } from './defaults.ts';
import { hostPatternsOverlap } from '../names/host.ts';
import { joinKey } from './locate.ts';
import { INVALID, isTable, readTable, describeType } from './read-table.ts';
import type { Reporter } from './read-table.ts';
import { AWS_KEYS, BEARER_KEYS } from './schema.ts';
import type { AllowRule, Credential } from './types.ts';
import { oneOf } from './values.ts';

export interface LoadedCredentials {
  list: Credential[];
  /** Host lists that validated, by key path, for the allowlist cross-check. */
  hosts: Array<{ key: string; hosts: readonly string[] }>;
}

const credentialType = oneOf(['bearer', 'aws']);

export function loadCredentials(value: unknown, at: Reporter): LoadedCredentials {
  const loaded: LoadedCredentials = { list: [], hosts: [] };
  if (value === undefined) return loaded;
  if (!isTable(value)) {
    at.report(`expected tables [credentials.NAME], got ${describeType(value)}`);
    return loaded;
  }
  const surrogates: Array<{ key: string; value: string }> = [];
  for (const [name, entry] of Object.entries(value)) {
    const here = at.at(joinKey(at.key, name));
    if (!/^[A-Za-z0-9_-]+$/.test(name)) {
      here.report('a credential name is letters, digits, "_" and "-" (it is written in logs), e.g. [credentials.anthropic]');
    }
    if (!isTable(entry)) {
      here.report(`expected a table [credentials.${name}], got ${describeType(entry)}`);
      continue;
    }
    const type = entry.type === undefined ? DEFAULTS.credentials.type : credentialType(entry.type, here.at(joinKey(here.key, 'type')));
    if (type === INVALID) continue;
    const credential = type === 'aws' ? loadAws(name, entry, here, surrogates) : loadBearer(name, entry, here, surrogates);
    loaded.list.push(credential.value);
    if (credential.hostsOk) loaded.hosts.push({ key: joinKey(here.key, 'hosts'), hosts: credential.value.hosts });
  }
  checkSurrogatesUnique(surrogates, at);
  return loaded;
}

const AWS_ONLY = new Set(Object.keys(AWS_KEYS).filter((k) => !Object.hasOwn(BEARER_KEYS, k)));
const BEARER_ONLY = new Set(Object.keys(BEARER_KEYS).filter((k) => !Object.hasOwn(AWS_KEYS, k)));

interface LoadedCredential<T> {
  value: T;
  hostsOk: boolean;
}

function loadBearer(
  name: string,
  entry: Record<string, unknown>,
  at: Reporter,
  surrogates: Array<{ key: string; value: string }>,
): LoadedCredential<Credential> {
  const { values: v, failed } = readTable(entry, BEARER_KEYS, at, {
    label: `[credentials.${name}] (type = "bearer")`,
    hint: (key) => (AWS_ONLY.has(key) ? ' (it belongs to type = "aws")' : undefined),
  });
  if (!failed.has('surrogate') && v.surrogate !== undefined) {
    surrogates.push({ key: joinKey(at.key, 'surrogate'), value: v.surrogate });
  }
  return {
    value: {
      type: 'bearer',
      name,
      hosts: v.hosts,
      surrogate: v.surrogate,
      secret: v.secret,
      headers: v.headers,
      query: v.query,
      body: v.body,
      allowForeignCredentials: v.allow_foreign_credentials,
      plaintext: v.plaintext,
    },
    hostsOk: !failed.has('hosts') && v.hosts !== undefined,
  };
}

function loadAws(
  name: string,
  entry: Record<string, unknown>,
  at: Reporter,
  surrogates: Array<{ key: string; value: string }>,
): LoadedCredential<Credential> {
  const { values: v, failed } = readTable(entry, AWS_KEYS, at, {
    label: `[credentials.${name}] (type = "aws")`,
    hint: (key) => (BEARER_ONLY.has(key) ? ' (it belongs to type = "bearer")' : undefined),
  });
  for (const key of ['surrogate_access_key_id', 'surrogate_secret_access_key'] as const) {
    if (!failed.has(key) && v[key] !== undefined) surrogates.push({ key: joinKey(at.key, key), value: v[key] });
  }
  return {
    value: {
      type: 'aws',
      name,
      hosts: v.hosts,
      surrogateAccessKeyId: v.surrogate_access_key_id,
      surrogateSecretAccessKey: v.surrogate_secret_access_key,
      accessKeyId: v.access_key_id,
      secretAccessKey: v.secret_access_key,
      sessionToken: v.session_token,
      allowForeignCredentials: v.allow_foreign_credentials,
      plaintext: v.plaintext,
    },
    hostsOk: !failed.has('hosts') && v.hosts !== undefined,
  };
}

/**
 * A surrogate identifies its credential: two equal ones would make the swap ambiguous, and one
 * inside another would let the shorter match inside the longer when scanning headers.
 */
function checkSurrogatesUnique(surrogates: ReadonlyArray<{ key: string; value: string }>, at: Reporter): void {
  surrogates.forEach((later, i) => {
    const earlier = surrogates.slice(0, i).find((s) => s.value.includes(later.value) || later.value.includes(s.value));
    if (earlier === undefined) return;
    const how = earlier.value === later.value ? 'is the same as' : 'overlaps (one contains the other)';
    at.report(`this surrogate ${how} ${earlier.key}; every surrogate must be unique`, later.key);
  });
}

/** A credential host that no allow rule admits could never receive its secret: a mistake. */
export function checkCredentialHostsAllowed(
  credentials: LoadedCredentials,
  rules: readonly AllowRule[],
  at: Reporter,
): void {
  for (const { key, hosts } of credentials.hosts) {
    for (const host of hosts) {
      if (rules.some((rule) => hostPatternsOverlap(rule.host, host))) continue;
      at.report(
        `"${host}" is not allowed by any [[allow]] rule, so this credential could never be used there; add [[allow]] host = "${host}" or remove it from hosts`,
        key,
      );
    }
  }
}
