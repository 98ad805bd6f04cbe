// The one holder of secret values: reading sources, clear errors that never contain a value,
// re-reading on reload, and the questions everything else asks it.
import { describe, expect, it } from 'vitest';
import { writeFileSync, unlinkSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { createSecretStore } from '../../src/credentials/secret-store.ts';
import { createCredentialFixture, DEFAULT_TOML, ENV, V } from '../helpers/credentials-fixture.ts';
import { parseConfig } from '../../src/config/load.ts';

const REAL_VALUES = [V.githubReal, V.anthropicReal, V.oauthReal, V.awsKeyIdReal, V.awsSecretReal, V.awsSessionReal];

function loadError(env: Record<string, string | undefined>, prepare?: (dir: string) => void): string {
  const f = createCredentialFixture();
  prepare?.(f.dir);
  try {
    createSecretStore(f.config, { env });
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the store to refuse');
}

describe('reading secret sources', () => {
  it('reads env and file sources, trimming surrounding whitespace as `sluice check` does', () => {
    const f = createCredentialFixture();
    // The env value has spaces and a newline around it, the file a trailing newline.
    expect(f.store.findRealSecret(`x ${V.anthropicReal} y`)?.name).toBe('anthropic');
    expect(f.store.findRealSecret(V.githubReal)?.name).toBe('github');
    expect(f.store.findRealSecret(`${V.anthropicReal}\n`)?.name).toBe('anthropic');
  });

  it('names the key and the variable when a required variable is unset or empty', () => {
    const hint = '; set it in sluice\'s environment, or mark the source optional = true if it may be absent';
    expect(loadError({ ...ENV, T_ANTHROPIC_KEY: undefined })).toBe(`credentials.anthropic.secret: environment variable T_ANTHROPIC_KEY is not set${hint}`);
    expect(loadError({ ...ENV, T_AWS_SECRET: '  \n' })).toBe(`credentials.aws.secret_access_key: environment variable T_AWS_SECRET is empty${hint}`);
  });

  it('names the file when a secret file is missing, empty or unreadable', () => {
    expect(loadError(ENV, (dir) => unlinkSync(join(dir, 'github.secret')))).toMatch(/^credentials\.github\.secret: secret file .*github\.secret does not exist; create it, or mark the source optional = true if it may be absent$/);
    expect(loadError(ENV, (dir) => writeFileSync(join(dir, 'github.secret'), '\n'))).toMatch(/secret file .*github\.secret is empty; valid: a file holding the secret$/);
    if (process.getuid?.() !== 0) {
      expect(loadError(ENV, (dir) => chmodSync(join(dir, 'github.secret'), 0))).toMatch(/permission denied/);
    }
  });

  it('accepts an absent optional source', () => {
    const f = createCredentialFixture();
    const store = createSecretStore(f.config, { env: { ...ENV, T_AWS_SESSION: undefined } });
    expect(store.findRealSecret(V.awsSessionReal)).toBeUndefined();
    expect(store.findRealSecret(V.awsKeyIdReal)?.name).toBe('aws');
  });

  it('refuses a value too short to recognise, without printing it', () => {
    const message = loadError({ ...ENV, T_OAUTH_SECRET: 'abc12' });
    expect(message).toBe('credentials.oauth.secret: the value in environment variable T_OAUTH_SECRET is 5 characters; sluice needs at least 8 to recognise it safely');
  });

  it('refuses a secret that contains a surrogate, without printing either', () => {
    const message = loadError({ ...ENV, T_OAUTH_SECRET: `x${V.githubSurrogate}x` });
    expect(message).toMatch(/credentials\.oauth: a real secret value contains, or is contained in, the surrogate of credential "github"/);
    expect(message).not.toContain(V.githubSurrogate);
  });

  it('never puts a value in an error message', () => {
    for (const env of [{ ...ENV, T_AWS_ID: 'short' }, { ...ENV, T_AWS_SECRET: undefined }]) {
      const message = loadError(env);
      for (const value of [...REAL_VALUES, 'short']) expect(message).not.toContain(value);
    }
  });

  it('re-reads files when a new store is built (reload)', () => {
    const f = createCredentialFixture();
    writeFileSync(join(f.dir, 'github.secret'), 'ghp_ROTATEDrotatedROTATED999\n');
    const reloaded = createSecretStore(parseConfig(DEFAULT_TOML(f.dir), join(f.dir, 'sluice.toml')), { env: ENV });
    expect(reloaded.findRealSecret('ghp_ROTATEDrotatedROTATED999')?.name).toBe('github');
    expect(reloaded.findRealSecret(V.githubReal)).toBeUndefined();
    expect(f.store.findRealSecret(V.githubReal)?.name).toBe('github');
  });
});

describe('questions the store answers', () => {
  const f = createCredentialFixture();

  it('finds surrogates, also without case for host names', () => {
    expect(f.store.findSurrogate(`Bearer ${V.githubSurrogate}`)?.name).toBe('github');
    expect(f.store.findSurrogate(`/x?k=${V.awsKeyIdSurrogate}`)?.name).toBe('aws');
    expect(f.store.findSurrogate(V.awsKeyIdSurrogate.toLowerCase())).toBeUndefined();
    expect(f.store.findSurrogate(`${V.awsKeyIdSurrogate.toLowerCase()}.evil.test`, { ignoreCase: true })?.name).toBe('aws');
    expect(f.store.findSurrogate('nothing here')).toBeUndefined();
  });

  it('scopes credentials to their hosts, wildcards matching one or more labels', () => {
    expect(f.store.scopedTo('github.com').map((c) => c.name)).toEqual(['github']);
    expect(f.store.scopedTo('bucket.s3.us-east-1.amazonaws.com').map((c) => c.name)).toEqual(['aws']);
    expect(f.store.scopedTo('amazonaws.com')).toEqual([]);
    expect(f.store.scopedTo('api.github.com')).toEqual([]);
  });

  it('redacts every surrogate and real value, also percent-encoded, as [REDACTED:name]', () => {
    const text = `/p?a=${V.githubReal}&b=${encodeURIComponent(V.awsSecretReal)}&c=${V.anthropicSurrogate}&d=${V.awsSessionReal}`;
    const out = f.store.redact(text);
    expect(out).toBe('/p?a=[REDACTED:github]&b=[REDACTED:aws]&c=[REDACTED:anthropic]&d=[REDACTED:aws]');
    expect(f.store.redact('plain text')).toBe('plain text');
  });

  it('scrubs real values to their surrogates (a session token, which has none, to a marker)', () => {
    expect(f.store.scrub(`key ${V.githubReal} id ${V.awsKeyIdReal} tok ${V.awsSessionReal}`))
      .toBe(`key ${V.githubSurrogate} id ${V.awsKeyIdSurrogate} tok [REDACTED:aws]`);
    expect(f.store.scrubChangesLength).toBe(true);
  });

  it('gives the AWS key pair to the signer, and nothing for other credentials', () => {
    expect(f.store.realAwsCredentials('aws')).toEqual({ accessKeyId: V.awsKeyIdReal, secretAccessKey: V.awsSecretReal, sessionToken: V.awsSessionReal });
    expect(f.store.realAwsCredentials('github')).toBeUndefined();
    const noSession = createSecretStore(f.config, { env: { ...ENV, T_AWS_SESSION: undefined } });
    expect(noSession.realAwsCredentials('aws')?.sessionToken).toBeUndefined();
  });

  it('swaps only a surrogate or a token, never an arbitrary string', () => {
    expect(f.store.swap(`Bearer ${V.githubSurrogate}`, 'github', V.githubSurrogate)).toBe(`Bearer ${V.githubReal}`);
    expect(() => f.store.swap('Bearer x', 'github', 'x')).toThrow(/not its surrogate/);
    expect(() => f.store.swap('x', 'aws', 'x')).toThrow(/not a bearer credential/);
  });
});
