// Responses from credential hosts: any echoed real value becomes its surrogate, in headers and
// across body chunk boundaries, before the agent sees it; decoded first (needsPlaintext).
import { describe, expect, it } from 'vitest';
import { createCredentialFixture, V } from '../helpers/credentials-fixture.ts';
import type { ResponseHook, ResponseHeaders } from '../../src/pipeline/body.ts';

const f = createCredentialFixture();

function scrubHook(method = 'GET', host = 'github.com'): ResponseHook {
  const ex = f.exchange({ host, method });
  expect(f.step(ex)).toBeUndefined();
  const hook = ex.response.find((h) => h.name === 'credentials-scrub');
  expect(hook).toBeDefined();
  return hook as ResponseHook;
}

function started(hook: ResponseHook, headers: ResponseHeaders): ResponseHook {
  hook.start?.(200, headers);
  return hook;
}

function stream(hook: ResponseHook, chunks: string[]): string {
  const out = chunks.map((c) => hook.data?.(Buffer.from(c)) ?? Buffer.from(c));
  const rest = hook.end?.();
  return Buffer.concat([...out, ...(rest === undefined ? [] : [rest])]).toString();
}

describe('response scrub', () => {
  it('asks for plaintext, so compressed responses are decoded first', () => {
    expect(scrubHook().needsPlaintext).toBe(true);
  });

  it('is not added on hosts without credentials', () => {
    const ex = f.exchange({ host: 'elsewhere.test' });
    expect(f.step(ex)).toBeUndefined();
    expect(ex.response).toEqual([]);
  });

  // In bodies the surrogate is padded with '*' (or cut) to the echoed value's length.
  const fit = (surrogate: string, real: string): string => (surrogate.length >= real.length ? surrogate.slice(0, real.length) : surrogate.padEnd(real.length, '*'));

  it('replaces echoed secrets with the surrogate, split at every chunk boundary', () => {
    const body = `{"error":"bad key ${V.githubReal}","again":"${V.githubReal}"}`;
    const expected = `{"error":"bad key ${V.githubSurrogate}","again":"${V.githubSurrogate}"}`;
    for (let i = 0; i <= body.length; i++) {
      for (const j of [i, Math.min(body.length, i + 3), Math.min(body.length, i + 17)]) {
        expect(stream(started(scrubHook(), {}), [body.slice(0, i), body.slice(i, j), body.slice(j)])).toBe(expected);
      }
    }
  });

  it('keeps a promised Content-Length true: replacements take the echoed value\'s length', () => {
    const body = `{"error":"bad key ${V.githubReal}"}`;
    const headers: ResponseHeaders = { 'content-length': String(body.length) };
    const out = stream(started(scrubHook(), headers), [body.slice(0, 25), body.slice(25)]);
    expect(out).toBe(`{"error":"bad key ${fit(V.githubSurrogate, V.githubReal)}"}`);
    expect(out.length).toBe(body.length);
    expect(headers['content-length']).toBe(String(body.length));
    expect(out).not.toContain(V.githubReal);
  });

  it('scrubs every credential\'s values, S3\'s <AWSAccessKeyId> included', () => {
    const body = `<Error><AWSAccessKeyId>${V.awsKeyIdReal}</AWSAccessKeyId><Token>${V.awsSessionReal}</Token></Error>`;
    expect(stream(started(scrubHook('GET', 'bucket.s3.amazonaws.com'), {}), [body.slice(0, 30), body.slice(30)]))
      .toBe(`<Error><AWSAccessKeyId>${V.awsKeyIdSurrogate}</AWSAccessKeyId><Token>[REDACTED:aws]</Token></Error>`);
  });

  it('scrubs headers and keeps content-length (body replacements keep lengths)', () => {
    const headers: ResponseHeaders = { 'x-echo': `k=${V.githubReal}`, 'set-cookie': [`a=${V.anthropicReal}`, 'b=1'], 'content-length': '99' };
    scrubHook().start?.(200, headers);
    expect(headers).toEqual({ 'x-echo': `k=${V.githubSurrogate}`, 'set-cookie': [`a=${V.anthropicSurrogate}`, 'b=1'], 'content-length': '99' });
    const head: ResponseHeaders = { 'content-length': '99' };
    scrubHook('HEAD').start?.(200, head);
    expect(head['content-length']).toBe('99');
  });
});
