// Every place a client puts a credential: the surrogate is swapped for the real secret in the
// same place and form, and only there.
import { describe, expect, it } from 'vitest';
import { createCredentialFixture, V } from '../helpers/credentials-fixture.ts';

const f = createCredentialFixture();
const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('swap in each place', () => {
  it('Authorization: Bearer', () => {
    const ex = f.exchange({ host: 'github.com', headers: { authorization: `Bearer ${V.githubSurrogate}` } });
    expect(f.step(ex)).toBeUndefined();
    expect(ex.headers.authorization).toBe(`Bearer ${V.githubReal}`);
    expect(ex.credential).toBe('github');
    expect(ex.trace).toContainEqual({ step: 'credentials', action: 'swapped_surrogate', detail: 'github in header authorization' });
  });

  it('Authorization with another scheme (GitHub\'s "token")', () => {
    const ex = f.exchange({ host: 'github.com', headers: { authorization: `token ${V.githubSurrogate}` } });
    expect(f.step(ex)).toBeUndefined();
    expect(ex.headers.authorization).toBe(`token ${V.githubReal}`);
  });

  it('Authorization: Basic, password half (git\'s x-access-token:TOKEN)', () => {
    const ex = f.exchange({ host: 'github.com', headers: { authorization: basic('x-access-token', V.githubSurrogate) } });
    expect(f.step(ex)).toBeUndefined();
    expect(ex.headers.authorization).toBe(basic('x-access-token', V.githubReal));
    expect(ex.trace).toContainEqual({ step: 'credentials', action: 'swapped_surrogate', detail: 'github in header authorization (Basic password)' });
  });

  it('Authorization: Basic, user half (tools that send the token as the user)', () => {
    const ex = f.exchange({ host: 'github.com', headers: { authorization: basic(V.githubSurrogate, '') } });
    expect(f.step(ex)).toBeUndefined();
    expect(ex.headers.authorization).toBe(basic(V.githubReal, ''));
  });

  it('x-api-key and x-goog-api-key', () => {
    for (const name of ['x-api-key', 'x-goog-api-key']) {
      const ex = f.exchange({ host: 'api.anthropic.com', headers: { [name]: V.anthropicSurrogate } });
      expect(f.step(ex)).toBeUndefined();
      expect(ex.headers[name]).toBe(V.anthropicReal);
      expect(ex.credential).toBe('anthropic');
    }
  });

  it('a header named in headers = [...]', () => {
    const ex = f.exchange({ host: 'api.anthropic.com', headers: { 'x-custom-auth': V.anthropicSurrogate } });
    expect(f.step(ex)).toBeUndefined();
    expect(ex.headers['x-custom-auth']).toBe(V.anthropicReal);
  });

  it('a query parameter named in query = [...], other parameters byte for byte', () => {
    const ex = f.exchange({ host: 'api.anthropic.com', path: `/v1/models?x=%2Fa+b&key=${V.anthropicSurrogate}&y=1` });
    expect(f.step(ex)).toBeUndefined();
    expect(ex.path).toBe(`/v1/models?x=%2Fa+b&key=${encodeURIComponent(V.anthropicReal)}&y=1`);
  });

  it('a percent-encoded surrogate in a query parameter', () => {
    const encoded = [...V.anthropicSurrogate].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('');
    const ex = f.exchange({ host: 'api.anthropic.com', path: `/v1?key=${encoded}` });
    expect(f.step(ex)).toBeUndefined();
    expect(ex.path).toBe(`/v1?key=${encodeURIComponent(V.anthropicReal)}`);
  });

  it('a surrogate in a header the credential does not use stays a surrogate', () => {
    const ex = f.exchange({ host: 'api.anthropic.com', headers: { 'x-other': V.anthropicSurrogate } });
    expect(f.step(ex)).toBeUndefined();
    expect(ex.headers['x-other']).toBe(V.anthropicSurrogate);
    expect(ex.credential).toBeUndefined();
  });

  it('a request without any credential passes untouched (git\'s first, anonymous request)', () => {
    const ex = f.exchange({ host: 'github.com', path: '/org/repo.git/info/refs?service=git-upload-pack', headers: { accept: '*/*' } });
    expect(f.step(ex)).toBeUndefined();
    // Untouched but for the ask for an uncompressed answer (credential hosts' answers are scrubbed).
    expect(ex.headers).toEqual({ accept: '*/*', 'accept-encoding': 'identity' });
    expect(ex.credential).toBeUndefined();
    // Still scrubbed: the response of a credential host never shows a real secret.
    expect(ex.response.map((h) => h.name)).toEqual(['credentials-scrub']);
  });
});

describe('swap in request bodies (body = true)', () => {
  it('swaps the surrogate split across chunks and drops content-length', async () => {
    const ex = f.exchange({ host: 'auth.example.com', method: 'POST', hasBody: true });
    expect(f.step(ex)).toBeUndefined();
    const form = `grant_type=client_credentials&client_secret=${V.oauthSurrogate}&x=1`;
    const cut = form.indexOf(V.oauthSurrogate) + 7;
    const out = await f.body(ex, [form.slice(0, cut), form.slice(cut, cut + 3), form.slice(cut + 3)]);
    expect(out.toString()).toBe(`grant_type=client_credentials&client_secret=${V.oauthReal}&x=1`);
    expect(ex.requestBody.some((t) => t.changesLength)).toBe(true);
    expect(ex.credential).toBe('oauth');
  });

  it('does not swap bodies for credentials without body = true', async () => {
    const ex = f.exchange({ host: 'github.com', method: 'POST', hasBody: true });
    expect(f.step(ex)).toBeUndefined();
    const out = await f.body(ex, [`{"note":"${V.githubSurrogate}"}`]);
    expect(out.toString()).toBe(`{"note":"${V.githubSurrogate}"}`);
  });
});
