// Real credentials travel only over verified TLS (DESIGN.md §1, issue 11 item 2): a swap or a
// SigV4 re-sign on a request that arrived over plain HTTP is refused with 403
// credential_over_plaintext, and the request is left as the agent sent it, unless the
// credential says plaintext = true, which `sluice check` warns about.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCredentialFixture, DEFAULT_TOML, V, type CredentialFixture } from '../helpers/credentials-fixture.ts';
import { SluiceError } from '../../src/errors/codes.ts';
import type { Exchange } from '../../src/pipeline/exchange.ts';
import type { HeaderMap } from '../../src/http/header-map.ts';
import { createSigv4Step } from '../../src/steps/sigv4/step.ts';
import { checkCommand } from '../../src/cli/check.ts';
import { parseConfig } from '../../src/config/load.ts';
import { configWarnings } from '../../src/config/warnings.ts';

const PLAINTEXT_TOML = (dir: string): string => DEFAULT_TOML(dir)
  .replace('[credentials.oauth]\n', '[credentials.oauth]\nplaintext = true\n')
  .replace('[credentials.aws]\ntype = "aws"\n', '[credentials.aws]\ntype = "aws"\nplaintext = true\n');

const strict = createCredentialFixture();
const lenient = createCredentialFixture(PLAINTEXT_TOML);
afterAll(() => {
  for (const f of [strict, lenient]) rmSync(f.dir, { recursive: true, force: true });
});

/** The fixture's exchange, as if it had arrived on the plain HTTP listener. */
function plain(f: CredentialFixture, init: Parameters<CredentialFixture['exchange']>[0]): Exchange {
  const ex = f.exchange(init);
  return { ...ex, conn: { ...ex.conn, listener: 'http', sni: undefined, upstreamPort: 80 } };
}

function refusal(result: unknown): SluiceError {
  expect(result).toBeInstanceOf(SluiceError);
  return result as SluiceError;
}

describe('config: plaintext', () => {
  it('defaults to false for both kinds and reads true', () => {
    expect(strict.config.credentials.map((c) => [c.name, c.plaintext])).toEqual([['github', false], ['anthropic', false], ['oauth', false], ['aws', false]]);
    expect(lenient.config.credentials.filter((c) => c.plaintext).map((c) => c.name)).toEqual(['oauth', 'aws']);
  });

  it('must be a boolean', () => {
    const toml = DEFAULT_TOML('/x').replace('[credentials.github]\n', '[credentials.github]\nplaintext = "yes"\n');
    expect(() => parseConfig(toml, '/x/sluice.toml')).toThrow(/credentials\.github\.plaintext/);
  });
});

describe('the credentials step on a plain-HTTP request', () => {
  it('refuses a surrogate in a header with 403 credential_over_plaintext and leaves the request as sent', () => {
    const ex = plain(strict, { host: 'github.com', headers: { authorization: `Bearer ${V.githubSurrogate}` } });
    const r = refusal(strict.step(ex));
    expect([r.status, r.reason]).toEqual([403, 'credential_over_plaintext']);
    expect(r.message).toContain('"github"');
    expect(r.message).not.toContain(V.githubReal);
    expect(ex.headers.authorization).toBe(`Bearer ${V.githubSurrogate}`);
    expect(JSON.stringify(ex.trace)).not.toContain('swapped');
    expect(ex.credential).toBe('github');
  });

  it('refuses a surrogate in a query parameter, path unchanged', () => {
    const path = `/v1/models?key=${V.anthropicSurrogate}`;
    const ex = plain(strict, { host: 'api.anthropic.com', path });
    expect(refusal(strict.step(ex)).reason).toBe('credential_over_plaintext');
    expect(ex.path).toBe(path);
  });

  it('refuses a Basic credential (git over http://) too', () => {
    const auth = `Basic ${Buffer.from(`x-access-token:${V.githubSurrogate}`).toString('base64')}`;
    const ex = plain(strict, { host: 'github.com', headers: { authorization: auth } });
    expect(refusal(strict.step(ex)).reason).toBe('credential_over_plaintext');
    expect(ex.headers.authorization).toBe(auth);
  });

  it('refuses a surrogate key id of an AWS credential (its re-sign would go in clear)', () => {
    const ex = plain(strict, { host: 'bucket.s3.amazonaws.com', headers: { authorization: `AWS4-HMAC-SHA256 Credential=${V.awsKeyIdSurrogate}/20261123/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`, 'x-amz-security-token': 'agent-token' } });
    expect(refusal(strict.step(ex)).reason).toBe('credential_over_plaintext');
    expect(ex.headers['x-amz-security-token']).toBe('agent-token');
  });

  it('lets requests without a credential through, and still refuses real secrets and misuse first', () => {
    expect(strict.step(plain(strict, { host: 'github.com', headers: { accept: '*/*' } }))).toBeUndefined();
    expect(refusal(strict.step(plain(strict, { host: 'github.com', headers: { authorization: `Bearer ${V.githubReal}` } }))).reason).toBe('real_secret');
    expect(refusal(strict.step(plain(strict, { host: 'elsewhere.test', headers: { authorization: `Bearer ${V.githubSurrogate}` } }))).reason).toBe('surrogate_misuse');
  });

  it('swaps over TLS as before', () => {
    const ex = strict.exchange({ host: 'github.com', headers: { authorization: `Bearer ${V.githubSurrogate}` } });
    expect(strict.step(ex)).toBeUndefined();
    expect(ex.headers.authorization).toBe(`Bearer ${V.githubReal}`);
  });

  it('a body = true credential: a surrogate in the body is refused, not swapped; a body without one passes', async () => {
    const ex = plain(strict, { host: 'auth.example.com', method: 'POST', hasBody: true });
    expect(strict.step(ex)).toBeUndefined();
    const half = Math.floor(V.oauthSurrogate.length / 2);
    const out = await strict.body(ex, ['client_id=app&client_secret=', V.oauthSurrogate.slice(0, half), V.oauthSurrogate.slice(half)]);
    expect(refusal(out).reason).toBe('credential_over_plaintext');
    const clean = plain(strict, { host: 'auth.example.com', method: 'POST', hasBody: true });
    expect(strict.step(clean)).toBeUndefined();
    expect((await strict.body(clean, ['grant_type=client_credentials'])).toString()).toBe('grant_type=client_credentials');
  });

  it('plaintext = true swaps on plain HTTP (header and body)', async () => {
    const ex = plain(lenient, { host: 'auth.example.com', method: 'POST', hasBody: true, headers: { authorization: `Bearer ${V.oauthSurrogate}` } });
    expect(lenient.step(ex)).toBeUndefined();
    expect(ex.headers.authorization).toBe(`Bearer ${V.oauthReal}`);
    expect((await lenient.body(ex, [`client_secret=${V.oauthSurrogate}`])).toString()).toBe(`client_secret=${V.oauthReal}`);
  });
});

describe('the sigv4 step on a plain-HTTP request', () => {
  const header: HeaderMap = {
    authorization: `AWS4-HMAC-SHA256 Credential=${V.awsKeyIdSurrogate}/20261123/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
    'x-amz-date': '20261123T180000Z',
  };
  const step = createSigv4Step({ realCredentials: () => ({ realAwsCredentials: () => ({ accessKeyId: V.awsKeyIdReal, secretAccessKey: V.awsSecretReal, sessionToken: undefined }) }), now: () => Date.parse('2026-11-23T18:00:00Z') });
  const run = async (f: CredentialFixture, listener: 'http' | 'tls') => {
    const base = f.exchange({ host: 'sts.amazonaws.com', method: 'POST', headers: header, hasBody: true });
    const bufferBody = vi.fn(async () => Buffer.from('Action=GetCallerIdentity'));
    const ex = { ...base, conn: { ...base.conn, listener }, bufferBody, runtime: { ...base.runtime, services: { opsLog: { warn: vi.fn() } } } } as unknown as Exchange;
    return { result: await step.onRequest(ex), ex, bufferBody };
  };

  it('refuses before reading the body or verifying anything', async () => {
    const { result, ex, bufferBody } = await run(strict, 'http');
    expect(refusal(result).reason).toBe('credential_over_plaintext');
    expect(bufferBody).not.toHaveBeenCalled();
    expect(ex.headers.authorization).toBe(header.authorization);
  });

  it('goes on to verify the signature over TLS, or with plaintext = true', async () => {
    // The fixed signature is not the surrogate's: reaching the check proves the listener passed.
    expect(refusal((await run(strict, 'tls')).result).reason).toBe('bad_surrogate_signature');
    expect(refusal((await run(lenient, 'http')).result).reason).toBe('bad_surrogate_signature');
  });
});

describe('sluice check warns about body = true', () => {
  it('names each bearer credential that swaps in bodies, with its line, and what it gives up', () => {
    const source = PLAINTEXT_TOML(lenient.dir);
    const warnings = configWarnings(parseConfig(source, join(lenient.dir, 'sluice.toml')), 'sluice.toml', source).filter((w) => w.key.endsWith('.body'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.key).toMatch(/^credentials\.\w+\.body$/);
    expect(warnings[0]?.line).toBe(source.split('\n').indexOf('body = true') + 1);
    expect(warnings[0]?.message).toMatch(/^warning: body = true: the real secret is written into request bodies .*gRPC replies .* stalls\) and compressed ones refused/);
    const without = parseConfig(source.replace('body = true', 'body = false'), join(lenient.dir, 'sluice.toml'));
    expect(configWarnings(without, 'sluice.toml', source).filter((w) => w.key.endsWith('.body'))).toEqual([]);
  });
});

describe('sluice check warns about plaintext = true', () => {
  it('names each such credential with file:line: key on stderr, and still exits 0', async () => {
    const file = join(lenient.dir, 'sluice.toml');
    const source = PLAINTEXT_TOML(lenient.dir);
    const warnings = configWarnings(parseConfig(source, file), 'sluice.toml', source).filter((w) => w.key.endsWith('.plaintext'));
    expect(warnings.map((w) => `${w.line}: ${w.key}`)).toEqual([
      `${source.split('\n').indexOf('plaintext = true') + 1}: credentials.oauth.plaintext`,
      `${source.split('\n').lastIndexOf('plaintext = true') + 1}: credentials.aws.plaintext`,
    ]);
    expect(configWarnings(strict.config, 'sluice.toml').filter((w) => w.key.endsWith('.plaintext'))).toEqual([]);

    writeFileSync(file, source);
    let stderr = '';
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr += String(chunk);
      return true;
    });
    try {
      expect(await checkCommand(['-c', file, '--no-secrets'])).toBe(0);
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
    expect(stderr).toMatch(new RegExp(`^${file.replaceAll('.', '\\.')}:\\d+: credentials\\.oauth\\.plaintext: warning: plaintext = true: the real secret may be sent upstream over plain HTTP`, 'm'));
    expect(stderr).toMatch(/credentials\.aws\.plaintext: warning: plaintext = true: requests re-signed with the real AWS key/);
  });
});
