// Issue 11, item 4: an echoed secret is scrubbed in every form a server commonly writes it —
// literal, percent-encoded (upper/lower hex, encodeURIComponent's or every byte), base64
// (standard and URL-safe, at every offset, inside `Basic user:secret`), JSON-escaped (`\/`,
// `\uXXXX` of any character) — in the reason phrase, headers and bodies; and the request side
// recognises the same forms of a real secret (an agent must not smuggle one out encoded).
import { describe, expect, it } from 'vitest';
import { createCredentialFixture, V } from '../helpers/credentials-fixture.ts';
import type { ResponseHook, ResponseHeaders } from '../../src/pipeline/body.ts';
import { SluiceError } from '../../src/errors/codes.ts';

const f = createCredentialFixture();
const store = f.store;

const pctEvery = (s: string, upper = true): string => [...Buffer.from(s)].map((x) => `%${x.toString(16).padStart(2, '0')}`).map((e) => (upper ? e.toUpperCase() : e)).join('');
const jsonEvery = (s: string, upper = false): string => [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).map((e) => (upper ? e.replace(/[a-f]/g, (h) => h.toUpperCase()) : e)).join('');
const jsonSlash = (s: string): string => JSON.stringify(s).slice(1, -1).replaceAll('/', '\\/');
const lowerHex = (s: string): string => s.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase());
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const b64url = (s: string): string => Buffer.from(s).toString('base64url');

/** Every text form, with what the surrogate looks like in that form. */
const textForms = (real: string, surrogate: string): Array<[string, string, string]> => [
  ['literal', real, surrogate],
  ['encodeURIComponent', encodeURIComponent(real), encodeURIComponent(surrogate)],
  ['encodeURIComponent, lower hex', lowerHex(encodeURIComponent(real)), lowerHex(encodeURIComponent(surrogate))],
  ['every byte percent-encoded', pctEvery(real), pctEvery(surrogate)],
  ['every byte percent-encoded, lower hex', pctEvery(real, false), pctEvery(surrogate, false)],
  ['JSON with \\/', jsonSlash(real), jsonSlash(surrogate)],
  ['JSON \\u of every character', jsonEvery(real), jsonEvery(surrogate)],
  ['JSON \\u of every character, upper hex', jsonEvery(real, true), jsonEvery(surrogate, true)],
];

/** A secret with a "/" and a "+" (an AWS secret key), and ones without. */
const PAIRS: Array<[string, string]> = [[V.awsSecretReal, V.awsSecretSurrogate], [V.githubReal, V.githubSurrogate], [V.anthropicReal, V.anthropicSurrogate]];

/** True if any base64 spelling of text around `secret`, at any offset, is in `out`. */
function holdsBase64Of(out: string, secret: string): boolean {
  for (const pad of ['', 'a', 'ab']) {
    for (const enc of [b64(`${pad}${secret}`), b64url(`${pad}${secret}`)]) {
      // The characters the secret alone decides: skip the pad's, and the last 3 (neighbours).
      const core = enc.slice(Math.ceil((pad.length * 8) / 6) + 1, enc.length - 3);
      if (out.includes(core)) return true;
    }
  }
  return false;
}

function scrubHook(host = 'github.com'): ResponseHook {
  const ex = f.exchange({ host });
  expect(f.step(ex)).toBeUndefined();
  return ex.response.find((h) => h.name === 'credentials-scrub') as ResponseHook;
}

function streamBody(hook: ResponseHook, headers: ResponseHeaders, chunks: string[]): string {
  hook.start?.(200, headers);
  const out = chunks.map((c) => hook.data?.(Buffer.from(c)) ?? Buffer.from(c));
  const rest = hook.end?.();
  return Buffer.concat([...out, ...(rest === undefined ? [] : [rest])]).toString();
}

describe('scrub: text forms', () => {
  it('replaces each form with the surrogate in the same form', () => {
    for (const [real, surrogate] of PAIRS) {
      for (const [name, form, expected] of textForms(real, surrogate)) {
        expect(store.scrub(`{"k":"${form}"}`), name).toBe(`{"k":"${expected}"}`);
      }
    }
  });

  it('replaces mixed escapes (some characters escaped, some not)', () => {
    const mixed = [...V.awsSecretReal].map((c, i) => (i % 3 === 0 ? pctEvery(c) : i % 3 === 1 ? jsonEvery(c) : c)).join('');
    const out = store.scrub(`x ${mixed} y`);
    expect(out).not.toContain(mixed);
    expect(out.startsWith('x ') && out.endsWith(' y')).toBe(true);
    expect(store.findRealSecret(out)).toBeUndefined();
  });

  it('keeps a promised length: the encoded surrogate fitted to the echo, whole escapes only', () => {
    for (const [real, surrogate] of PAIRS) {
      for (const [name, form] of textForms(real, surrogate)) {
        const body = `{"k":"${form}"}`;
        const out = streamBody(scrubHook(), { 'content-length': String(body.length) }, [body]);
        expect(out.length, name).toBe(body.length);
        if (form !== real) expect(out, name).not.toContain(form);
        expect(out, name).not.toContain(real);
        expect(store.findRealSecret(out), name).toBeUndefined();
        expect(out).toMatch(/^\{"k":"[^"]*"\}$/);
      }
    }
  });
});

describe('scrub: base64 forms', () => {
  it('replaces base64 and base64url of the secret at every offset with a same-length marker', () => {
    for (const [real] of PAIRS) {
      for (const before of ['', 'u', 'us', 'user:', 'x-access-token:', 'ab']) {
        for (const after of ['', ':', 'xy', 'xyz']) {
          for (const enc of [b64, b64url]) {
            const text = `echo ${enc(`${before}${real}${after}`)} done`;
            const out = store.scrub(text);
            expect(out.length).toBe(text.length);
            expect(holdsBase64Of(out, real), `${before}|${after}`).toBe(false);
            expect(out).toMatch(/REDACTED/);
          }
        }
      }
    }
  });

  it('scrubs an echoed `Authorization: Basic` (a TRACE) in a header and in the body, split anywhere', () => {
    const basic = `Basic ${b64(`x-access-token:${V.githubReal}`)}`;
    const headers: ResponseHeaders = { 'x-echo': basic };
    const body = `TRACE / HTTP/1.1\r\nauthorization: ${basic}\r\n\r\n`;
    for (let i = 0; i <= body.length; i += 3) {
      const out = streamBody(scrubHook(), { ...headers }, [body.slice(0, i), body.slice(i)]);
      expect(holdsBase64Of(out, V.githubReal)).toBe(false);
      expect(out.length).toBe(body.length);
    }
    scrubHook().start?.(200, headers);
    expect(holdsBase64Of(headers['x-echo'] as string, V.githubReal)).toBe(false);
  });

  it('finds percent-encoded base64 (a Basic value put in a URL)', () => {
    const enc = encodeURIComponent(b64(`user:${V.awsSecretReal}`));
    expect(store.findRealSecret(`/cb?auth=${enc}`)?.name).toBe('aws');
    expect(holdsBase64Of(decodeURIComponent(store.scrub(`/cb?auth=${enc}`)), V.awsSecretReal)).toBe(false);
  });
});

describe('scrub: where it applies', () => {
  it('the HTTP/1 reason phrase', () => {
    const hook = scrubHook();
    expect(hook.reason?.(`Bad key ${pctEvery(V.githubReal)}`)).toBe(`Bad key ${pctEvery(V.githubSurrogate)}`);
    expect(hook.reason?.(`Bad key ${b64(`u:${V.githubReal}`)}`)).not.toContain(b64(`u:${V.githubReal}`).slice(4, -4));
  });

  it('header values and names', () => {
    const headers: ResponseHeaders = {
      location: `https://x.test/?k=${pctEvery(V.githubReal)}`,
      'x-json': `{"k":"${jsonEvery(V.githubReal)}"}`,
      [`x-${V.githubReal.toLowerCase()}`]: '1',
    };
    scrubHook().start?.(200, headers);
    expect(headers.location).toBe(`https://x.test/?k=${pctEvery(V.githubSurrogate)}`);
    expect(headers['x-json']).toBe(`{"k":"${jsonEvery(V.githubSurrogate)}"}`);
    expect(JSON.stringify(headers).toLowerCase()).not.toContain(V.githubReal.toLowerCase());
  });

  it('bodies, each form split at every chunk boundary', () => {
    const [real, surrogate] = [V.awsSecretReal, V.awsSecretSurrogate];
    for (const [name, form, expected] of textForms(real, surrogate)) {
      const body = `<a>${form}</a>`;
      for (let i = 0; i <= body.length; i++) {
        expect(streamBody(scrubHook('s3.amazonaws.com'), {}, [body.slice(0, i), body.slice(i)]), `${name} @${i}`).toBe(`<a>${expected}</a>`);
      }
    }
  });

  it('each WebSocket message: a filter of its own, flushed at the message end', () => {
    const filter = scrubHook('s3.amazonaws.com').message?.();
    expect(filter).toBeDefined();
    const text = `{"echo":"${jsonSlash(V.awsSecretReal)}"}`;
    const out = Buffer.concat([filter!.push(Buffer.from(text.slice(0, 20))), filter!.push(Buffer.from(text.slice(20))), filter!.end()]).toString();
    expect(out).toBe(`{"echo":"${jsonSlash(V.awsSecretSurrogate)}"}`);
  });
});

describe('request side: a real secret in any form is refused', () => {
  it('in the URL and headers, percent-encoded, base64 or JSON-escaped', () => {
    const forms = [pctEvery(V.awsSecretReal), lowerHex(encodeURIComponent(V.awsSecretReal)), b64url(`a${V.awsSecretReal}`), jsonEvery(V.awsSecretReal)];
    for (const form of forms) {
      const inUrl = f.step(f.exchange({ host: 'elsewhere.test', path: `/x?q=${encodeURIComponent(form)}` }));
      expect(inUrl).toBeInstanceOf(SluiceError);
      expect((inUrl as SluiceError).reason).toBe('real_secret');
      const inHeader = f.step(f.exchange({ host: 'elsewhere.test', headers: { 'x-data': form } }));
      expect((inHeader as SluiceError).reason).toBe('real_secret');
    }
  });

  it('in a streamed body, split anywhere', async () => {
    const body = `{"data":"${b64(`k=${V.anthropicReal}`)}","more":"${'m'.repeat(500)}"}`;
    for (const at of [1, 10, 17, 40, 200]) {
      const ex = f.exchange({ host: 'elsewhere.test', method: 'POST', hasBody: true });
      expect(f.step(ex)).toBeUndefined();
      const sent = await f.body(ex, [body.slice(0, at), body.slice(at)]);
      expect(sent).toBeInstanceOf(SluiceError);
      expect((sent as SluiceError).reason).toBe('real_secret');
    }
  });
});
