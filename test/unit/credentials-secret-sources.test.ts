// One reader of secret sources for `sluice check` and `sluice run` (issue 17, item 3): the first
// version had two, and `check` accepted a 5-character secret that `run` refused to load. Now a
// value is accepted by both or refused by both, with the same message.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../helpers/temp-dir.ts';
import { parseConfig } from '../../src/config/load.ts';
import { checkSecretSources } from '../../src/config/secrets-check.ts';
import { createSecretStore } from '../../src/credentials/secret-store.ts';
import { MIN_SECRET_LENGTH, readSecretSource, secretSources } from '../../src/credentials/secret-sources.ts';

const dir = makeTempDir('sources');
mkdirSync(join(dir, 'folder'));
writeFileSync(join(dir, 'empty'), ' \n');
writeFileSync(join(dir, 'short'), 'abc12\n');
writeFileSync(join(dir, 'good'), 'a-good-long-secret-value\n');

const toml = (secret: string, surrogate = 'surrogate-value-0001'): string => `
[proxy]
ca_dir = "${dir}/certs"
log_dir = "${dir}/logs"
[[allow]]
host = "api.example.com"
[credentials.svc]
hosts = ["api.example.com"]
surrogate = "${surrogate}"
secret = ${secret}
`;

/** What `sluice check` says (without FILE:LINE:) and what loading for `sluice run` says. */
function bothVerdicts(secret: string, env: Record<string, string | undefined>, surrogate?: string): { check: string[]; run: string | undefined } {
  const text = toml(secret, surrogate);
  const config = parseConfig(text, join(dir, 'sluice.toml'));
  const check = checkSecretSources(config, { source: text, displayFile: 'sluice.toml', env }).map((line) => line.replace(/^sluice\.toml:\d+: /, ''));
  let run: string | undefined;
  try {
    createSecretStore(config, { env });
  } catch (err) {
    run = (err as Error).message;
  }
  return { check, run };
}

describe('one rule for check and run', () => {
  const cases: Array<[string, string, Record<string, string | undefined>, RegExp | undefined]> = [
    ['a 5-character value', '{ env = "S" }', { S: 'abc12' }, /is 5 characters; sluice needs at least 8/],
    ['a 5-character file', `{ file = "${dir}/short" }`, {}, /is 5 characters/],
    ['an unset variable', '{ env = "S" }', {}, /environment variable S is not set/],
    ['an empty variable', '{ env = "S" }', { S: '  ' }, /environment variable S is empty/],
    ['a missing file', `{ file = "${dir}/missing" }`, {}, /does not exist/],
    ['an empty file', `{ file = "${dir}/empty" }`, {}, /is empty/],
    ['a folder', `{ file = "${dir}/folder" }`, {}, /is a folder/],
    ['a good variable', '{ env = "S" }', { S: 'long-enough-secret' }, undefined],
    ['a good file', `{ file = "${dir}/good" }`, {}, undefined],
    ['an absent optional variable', '{ env = "S", optional = true }', {}, undefined],
  ];
  for (const [name, secret, env, problem] of cases) {
    it(`${name}: ${problem === undefined ? 'both accept' : 'both refuse, with the same message'}`, () => {
      const { check, run } = bothVerdicts(secret, env);
      if (problem === undefined) {
        expect(check).toEqual([]);
        expect(run).toBeUndefined();
        return;
      }
      expect(check).toHaveLength(1);
      expect(check[0]).toMatch(problem);
      expect(run).toBe(check[0]);
    });
  }

  it('a secret that overlaps a surrogate: both refuse, naming no value', () => {
    const { check, run } = bothVerdicts('{ env = "S" }', { S: 'xx-surrogate-value-0001-xx' });
    expect(check).toEqual(['credentials.svc: a real secret value contains, or is contained in, the surrogate of credential "svc"; use a different surrogate']);
    expect(run).toBe(check[0]);
  });

  it('`sluice check` itself refuses the 5-character secret that `sluice run` refuses', () => {
    const file = join(dir, 'short.toml');
    writeFileSync(file, toml('{ env = "SLUICE_TEST_SHORT_SECRET" }'));
    const bin = join(import.meta.dirname, '../../bin/sluice.js');
    const result = spawnSync(process.execPath, [bin, 'check', '-c', file], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, SLUICE_TEST_SHORT_SECRET: 'abc12' },
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`credentials.svc.secret: the value in environment variable SLUICE_TEST_SHORT_SECRET is 5 characters; sluice needs at least ${MIN_SECRET_LENGTH}`);
    expect(result.stderr).not.toContain('abc12');
  });
});

describe('secret sources', () => {
  it('lists every source with its key path, in config order', () => {
    const config = parseConfig(`${toml('{ env = "S" }')}
[credentials.aws]
type = "aws"
hosts = ["api.example.com"]
surrogate_access_key_id = "AKIASLUICEEXAMPLE000"
surrogate_secret_access_key = "sluice-example-surrogate-secret"
access_key_id = { env = "A" }
secret_access_key = { file = "k" }
session_token = { env = "T", optional = true }
`, join(dir, 'sluice.toml'));
    expect(secretSources(config).map((s) => `${s.key} ${s.field}`)).toEqual([
      'credentials.svc.secret secret',
      'credentials.aws.access_key_id access_key_id',
      'credentials.aws.secret_access_key secret_access_key',
      'credentials.aws.session_token session_token',
    ]);
  });

  it('trims surrounding whitespace, as files usually end with a newline', () => {
    expect(readSecretSource({ kind: 'env', name: 'S', optional: false }, { S: '  long-enough-value\n' })).toEqual({ value: 'long-enough-value' });
  });
});
