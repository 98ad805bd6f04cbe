// Minted tokens (macaroons): mint, attenuate offline, verify, expire; and the step accepting a
// token in place of the surrogate, with 401 for a bad or expired token and 403 for a caveat.
import { describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { attenuateToken, checkCaveats, mintToken, parseToken, verifyTokenSignature } from '../../src/credentials/macaroon.ts';
import { loadOrCreateMintKey, readMintKey } from '../../src/credentials/mint-key.ts';
import { mintCommand } from '../../src/cli/mint.ts';
import { createSecretStore } from '../../src/credentials/secret-store.ts';
import type { SluiceError } from '../../src/errors/codes.ts';
import { createCredentialFixture, ENV, V } from '../helpers/credentials-fixture.ts';

const key = randomBytes(32);
const req = { host: 'github.com', method: 'GET', path: '/org/repo' };
const NOW = Date.parse('2026-06-01T12:00:00Z');

describe('macaroon construction', () => {
  it('mints a token that verifies with its key only', () => {
    const token = mintToken(key, 'github', ['hosts=github.com']);
    expect(token).toMatch(/^sluice_mt_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    const parsed = parseToken(token);
    expect(parsed).toMatchObject({ credential: 'github', caveats: ['hosts=github.com'] });
    expect(verifyTokenSignature(key, parsed!)).toBe(true);
    expect(verifyTokenSignature(randomBytes(32), parsed!)).toBe(false);
  });

  it('attenuates offline: the result verifies and carries every caveat', () => {
    const token = mintToken(key, 'github', ['methods=GET,POST']);
    const weaker = attenuateToken(token, ['methods=GET', 'paths=/org/**']);
    const parsed = parseToken(weaker)!;
    expect(parsed.caveats).toEqual(['methods=GET,POST', 'methods=GET', 'paths=/org/**']);
    expect(verifyTokenSignature(key, parsed)).toBe(true);
    expect(checkCaveats(parsed, { ...req, method: 'POST' }, NOW)).toMatchObject({ ok: false, status: 403 });
    expect(checkCaveats(parsed, req, NOW)).toEqual({ ok: true });
  });

  it('a caveat cannot be removed or changed: the signature breaks', () => {
    const token = mintToken(key, 'github', ['methods=GET', 'paths=/org/**']);
    const parsed = parseToken(token)!;
    expect(verifyTokenSignature(key, { ...parsed, caveats: ['methods=GET'] })).toBe(false);
    expect(verifyTokenSignature(key, { ...parsed, caveats: ['methods=POST', 'paths=/org/**'] })).toBe(false);
    expect(verifyTokenSignature(key, { ...parsed, identifier: parsed.identifier.replace('github', 'other') })).toBe(false);
  });

  it('checks hosts, methods, paths and the validity window', () => {
    const check = (caveat: string, r = req): ReturnType<typeof checkCaveats> => checkCaveats(parseToken(mintToken(key, 'github', [caveat]))!, r, NOW);
    expect(check('hosts=github.com')).toEqual({ ok: true });
    expect(check('hosts=api.github.com')).toMatchObject({ ok: false, status: 403 });
    expect(check('hosts=*.github.com', { ...req, host: 'a.b.github.com' })).toEqual({ ok: true });
    expect(check('paths=/org/*')).toEqual({ ok: true });
    expect(check('paths=/other/**')).toMatchObject({ ok: false, status: 403, why: 'it is limited to paths /other/**' });
    expect(check('expires=2026-06-01T12:00:01Z')).toEqual({ ok: true });
    expect(check('expires=2026-06-01T12:00:00Z')).toMatchObject({ ok: false, status: 401, why: 'it expired at 2026-06-01T12:00:00.000Z' });
    expect(check('not-before=2026-06-01T13:00:00Z')).toMatchObject({ ok: false, status: 401 });
  });

  it('refuses malformed tokens and caveats', () => {
    expect(parseToken('sluice_mt_abc')).toBeUndefined();
    expect(parseToken('sluice_mt_@@@.xyz')).toBeUndefined();
    expect(() => mintToken(key, 'github', ['colour=blue'])).toThrow(/unknown caveat "colour"/);
    expect(() => attenuateToken('not a token', ['methods=GET'])).toThrow(/not a sluice minted token/);
  });
});

describe('the mint key', () => {
  it('is created once, 0600, next to the CA; a second call reads the same key', () => {
    const f = createCredentialFixture();
    const dir = join(f.dir, 'certs');
    expect(readMintKey(dir)).toBeUndefined();
    const first = loadOrCreateMintKey(dir);
    expect(first.created).toBe(true);
    expect(statSync(join(dir, 'mint.key')).mode & 0o777).toBe(0o600);
    const second = loadOrCreateMintKey(dir);
    expect(second.created).toBe(false);
    expect(second.key.equals(first.key)).toBe(true);
  });
});

function cli(argv: string[], now = Date.now()): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  return mintCommand(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), now: () => now }).then((code) => ({ code, out, err }));
}

describe('sluice mint and the credentials step', () => {
  const f = createCredentialFixture();
  const config = join(f.dir, 'sluice.toml');

  async function minted(args: string[], now?: number): Promise<string> {
    const r = await cli(['-c', config, '--credential', 'github', ...args], now);
    expect(r.err).not.toContain('sluice_mt_');
    expect(r.code).toBe(0);
    return r.out.trim();
  }

  function present(token: string, init: { method?: string; path?: string } = {}): { ex: ReturnType<typeof f.exchange>; result: SluiceError | undefined } {
    // A fresh store reads the key the CLI just created (as a reload would).
    const store = createSecretStore(f.config, { env: ENV });
    const ex = f.exchange({ host: 'github.com', headers: { authorization: `Bearer ${token}` }, ...init });
    (ex as { runtime: unknown }).runtime = { ...f.runtime, credentials: store };
    return { ex, result: f.step(ex) };
  }

  it('a minted token is swapped like the surrogate', async () => {
    const token = await minted(['--methods', 'GET', '--paths', '/org/**', '--valid-for', '10m']);
    expect(parseToken(token)?.caveats).toEqual(['methods=GET', 'paths=/org/**', expect.stringMatching(/^expires=/)]);
    const { ex, result } = present(token, { path: '/org/repo.git/info/refs?service=git-upload-pack' });
    expect(result).toBeUndefined();
    expect(ex.headers.authorization).toBe(`Bearer ${V.githubReal}`);
    expect(ex.credential).toBe('github');
  });

  it('defaults to one hour of validity', async () => {
    const token = await minted([], NOW);
    expect(parseToken(token)?.caveats).toEqual(['expires=2026-06-01T13:00:00.000Z']);
  });

  it('a failed caveat is 403 token_caveat; an expired token 401 token_expired; a forged one 401 token_invalid', async () => {
    const token = await minted(['--methods', 'GET']);
    const post = present(token, { method: 'POST' }).result as SluiceError;
    expect(post).toMatchObject({ reason: 'token_caveat', status: 403 });
    expect(post.message).toBe('minted token for credential "github" in header authorization refused: it is limited to methods GET');

    const expired = await minted(['--valid-for', '1s'], Date.now() - 5_000);
    expect(present(expired).result).toMatchObject({ reason: 'token_expired', status: 401 });

    const forged = mintToken(randomBytes(32), 'github', []);
    const bad = present(forged).result as SluiceError;
    expect(bad).toMatchObject({ reason: 'token_invalid', status: 401 });
    expect(bad.message).toBe('minted token for credential "github" in header authorization has a bad signature');
    expect(bad.message).not.toContain('sluice_mt_');
  });

  it('a holder attenuates with `sluice mint --attenuate`, no key needed; the narrower token still works where it may', async () => {
    const token = await minted([]);
    const r = await cli(['--attenuate', token, '--paths', '/org/**']);
    expect(r.code).toBe(0);
    const weaker = r.out.trim();
    expect(present(weaker, { path: '/org/x' }).result).toBeUndefined();
    expect(present(weaker, { path: '/admin' }).result).toMatchObject({ reason: 'token_caveat' });
  });

  it('a token sent to a host outside the credential is surrogate_misuse', async () => {
    const token = await minted([]);
    const store = createSecretStore(f.config, { env: ENV });
    const ex = f.exchange({ host: 'elsewhere.test', path: `/?t=${token}` });
    (ex as { runtime: unknown }).runtime = { ...f.runtime, credentials: store };
    expect(f.step(ex)).toMatchObject({ reason: 'surrogate_misuse' });
    expect(store.redact(`x ${token} y`)).toBe('x [REDACTED:github] y');
  });

  it('refuses hosts outside the credential, unknown credentials and AWS credentials', async () => {
    expect((await cli(['-c', config, '--credential', 'github', '--hosts', 'evil.test'])).err).toMatch(/outside the hosts of credential "github"/);
    expect((await cli(['-c', config, '--credential', 'nope'])).err).toMatch(/no credential "nope"/);
    expect((await cli(['-c', config, '--credential', 'aws'])).err).toMatch(/bearer surrogates only/);
    expect((await cli(['--credential', 'github', '--attenuate', 'x'])).code).toBe(2);
  });
});
