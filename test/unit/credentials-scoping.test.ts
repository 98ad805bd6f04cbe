// The order of checks: a real secret anywhere → real_secret; a surrogate outside its hosts →
// surrogate_misuse; on a credential host, any other credential → foreign_credential.
import { describe, expect, it } from 'vitest';
import { createCredentialFixture, V } from '../helpers/credentials-fixture.ts';
import { SluiceError } from '../../src/errors/codes.ts';

const f = createCredentialFixture();
const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const ALL_VALUES = Object.values(V);

function refused(ex: Parameters<typeof f.step>[0]): SluiceError {
  const r = f.step(ex);
  expect(r).toBeInstanceOf(SluiceError);
  const error = r as SluiceError;
  for (const value of ALL_VALUES) expect(error.message).not.toContain(value);
  expect(error.message).not.toContain('\n');
  return error;
}

describe('real secrets are refused whatever the host', () => {
  it('in a header, to a credential host and to any other host', () => {
    for (const host of ['github.com', 'elsewhere.test']) {
      const e = refused(f.exchange({ host, headers: { authorization: `Bearer ${V.githubReal}` } }));
      expect(e.reason).toBe('real_secret');
      expect(e.status).toBe(403);
      expect(e.message).toBe(`a real secret of credential "github" in header authorization sent to ${host}`);
    }
  });

  it('inside a Basic credential', () => {
    const e = refused(f.exchange({ host: 'github.com', headers: { authorization: basic('x-access-token', V.githubReal) } }));
    expect(e.reason).toBe('real_secret');
  });

  it('in the query, raw or percent-encoded, and in the path', () => {
    for (const path of [`/?q=${V.awsSecretReal}`, `/?q=${encodeURIComponent(V.awsSecretReal)}`, `/files/${V.anthropicReal}/x`]) {
      const e = refused(f.exchange({ host: 'elsewhere.test', path }));
      expect(e.reason).toBe('real_secret');
      expect(e.message).toMatch(/in the URL sent to elsewhere\.test$/);
    }
  });

  it('in the host name, without naming the host', () => {
    const e = refused(f.exchange({ host: `${V.awsKeyIdReal.toLowerCase()}.amazonaws.com` }));
    expect(e.reason).toBe('real_secret');
    expect(e.message).toBe('a real secret of credential "aws" in the host name');
  });

  it('in a body split across chunks, on any host, before any of it is sent', async () => {
    for (const host of ['elsewhere.test', 'auth.example.com', 'api.anthropic.com']) {
      const ex = f.exchange({ host, method: 'POST', hasBody: true });
      expect(f.step(ex)).toBeUndefined();
      const body = `{"messages":[{"content":"the key is ${V.anthropicReal} ok"}]}`;
      const cut = body.indexOf(V.anthropicReal) + 5;
      const out = await f.body(ex, [body.slice(0, cut), body.slice(cut)]);
      expect(out).toBeInstanceOf(SluiceError);
      expect((out as SluiceError).reason).toBe('real_secret');
      expect((out as SluiceError).message).toBe(`a real secret of credential "anthropic" in the request body sent to ${host}`);
    }
  });

  it('a real secret wins over a misuse in the same request', () => {
    const e = refused(f.exchange({ host: 'elsewhere.test', headers: { 'x-a': V.githubSurrogate, 'x-b': V.oauthReal } }));
    expect(e.reason).toBe('real_secret');
  });
});

describe('surrogates outside their hosts are misuse', () => {
  it('in a credential place', () => {
    const e = refused(f.exchange({ host: 'elsewhere.test', headers: { authorization: `Bearer ${V.githubSurrogate}` } }));
    expect(e.reason).toBe('surrogate_misuse');
    expect(e.status).toBe(403);
    expect(e.message).toBe('surrogate of credential "github" in header authorization sent to elsewhere.test');
  });

  it('on another credential\'s host', () => {
    const e = refused(f.exchange({ host: 'api.anthropic.com', headers: { 'x-api-key': V.githubSurrogate } }));
    expect(e.reason).toBe('surrogate_misuse');
  });

  it('in any header, Basic, anywhere in the URL, percent-encoded, or in the host name', () => {
    const cases = [
      { headers: { cookie: `s=${V.githubSurrogate}` } },
      { headers: { authorization: basic(V.anthropicSurrogate, 'x') } },
      { path: `/upload/${V.githubSurrogate}` },
      { path: `/?next=${encodeURIComponent(`https://x/?t=${V.oauthSurrogate}`)}` },
      { path: `/?aws=${V.awsKeyIdSurrogate}` },
    ];
    for (const c of cases) expect(refused(f.exchange({ host: 'elsewhere.test', ...c })).reason).toBe('surrogate_misuse');
    const e = refused(f.exchange({ host: `${V.awsKeyIdSurrogate.toLowerCase()}.elsewhere.test` }));
    expect(e.message).toBe('surrogate of credential "aws" in the host name');
  });

  it('the AWS surrogate key id in a SigV4 header sent to another host', () => {
    const auth = `AWS4-HMAC-SHA256 Credential=${V.awsKeyIdSurrogate}/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc`;
    expect(refused(f.exchange({ host: 'elsewhere.test', headers: { authorization: auth } })).reason).toBe('surrogate_misuse');
  });

  it('in a body, for credentials with body = true', async () => {
    const ex = f.exchange({ host: 'elsewhere.test', method: 'POST', hasBody: true });
    expect(f.step(ex)).toBeUndefined();
    const out = await f.body(ex, ['client_secret=', V.oauthSurrogate.slice(0, 4), V.oauthSurrogate.slice(4)]);
    expect((out as SluiceError).reason).toBe('surrogate_misuse');
  });

  it('a surrogate on its own host is not misuse, wherever it sits', () => {
    const ex = f.exchange({ host: 'github.com', path: `/x?ref=${V.githubSurrogate}`, headers: { cookie: V.githubSurrogate } });
    expect(f.step(ex)).toBeUndefined();
  });
});

describe('foreign credentials on credential hosts', () => {
  it('the agent\'s own key in each place the credential uses', () => {
    const cases = [
      { host: 'github.com', headers: { authorization: 'Bearer ghp_attackersOwnToken0000000000' } },
      { host: 'github.com', headers: { authorization: basic('x-access-token', 'ghp_attackersOwnToken') } },
      { host: 'github.com', headers: { authorization: basic('attacker', '') } },
      { host: 'github.com', headers: { 'x-api-key': 'attacker-key' } },
      { host: 'api.anthropic.com', headers: { 'x-goog-api-key': 'attacker-key' } },
      { host: 'api.anthropic.com', headers: { 'x-custom-auth': 'attacker-key' } },
      { host: 'api.anthropic.com', path: '/v1?key=attacker-key' },
    ];
    for (const c of cases) {
      const e = refused(f.exchange(c));
      expect(e.reason).toBe('foreign_credential');
      expect(e.status).toBe(403);
      expect(e.message).toMatch(/^a credential other than the surrogate of "(github|anthropic)" in (header|query parameter) [a-z-]+( \(Basic (user|password)\))? sent to /);
      expect(e.message).not.toContain('attacker');
    }
  });

  it('other places, and hosts without credentials, are not checked', () => {
    expect(f.step(f.exchange({ host: 'github.com', headers: { 'x-other-token': 'whatever' } }))).toBeUndefined();
    expect(f.step(f.exchange({ host: 'elsewhere.test', headers: { authorization: 'Bearer own-key-for-elsewhere' } }))).toBeUndefined();
  });

  it('allow_foreign_credentials = true lets the agent\'s own key through, unswapped', () => {
    const g = createCredentialFixture((dir) => `
[proxy]
ca_dir = "${dir}/certs"
[[allow]]
host = "github.com"
[credentials.github]
hosts = ["github.com"]
surrogate = "${V.githubSurrogate}"
secret = { file = "${dir}/github.secret" }
allow_foreign_credentials = true
`);
    const ex = g.exchange({ host: 'github.com', headers: { authorization: 'Bearer own-token-of-the-agent' } });
    expect(g.step(ex)).toBeUndefined();
    expect(ex.headers.authorization).toBe('Bearer own-token-of-the-agent');
    expect(ex.credential).toBeUndefined();
  });
});
