// DESIGN.md §1: no regular expression with super-linear backtracking on input the agent
// controls. Every parser of agent-controlled headers gets 100 KiB of adversarial whitespace and
// must answer within 10 ms, timed in-process around a single call: generous for linear code
// (well under 1 ms here), hopeless for a quadratic one (the old Authorization regex took
// seconds). Rewritten parsers are also checked against the regex they replace, on small inputs.
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { createCredentialFixture, V } from '../helpers/credentials-fixture.ts';
import { headerSlots, isSigV4Authorization, splitScheme, STANDARD_HEADERS } from '../../src/steps/credentials/places.ts';
import { requestTexts } from '../../src/steps/credentials/request-texts.ts';
import { sigV4KeyIds } from '../../src/steps/credentials/aws.ts';
import { findSigV4, parseAuthorizationHeader } from '../../src/sigv4/parse.ts';
import { canonicalHeaders } from '../../src/sigv4/canonical.ts';
import { decodePercent } from '../../src/http/percent-decode.ts';
import { findTokens, replaceTokens } from '../../src/credentials/token-scan.ts';
import type { HeaderMap } from '../../src/http/header-map.ts';

const KIB100 = 100 * 1024;
const LIMIT_MS = 10;
/** " \t" pairs, as in the report. */
const blanks = (bytes: number): string => ' \t'.repeat(bytes / 2);

/**
 * Milliseconds for one call of `f` on `input`: the best of three single calls, after warm-up
 * calls on a small input and on the first 4 KiB of this one (so JIT tier-up and a stray GC
 * pause are not what is measured). A quadratic parser is slow on every call.
 */
function timed(f: (input: string) => unknown, input: string, warmUp: string): number {
  f(warmUp);
  f(input.slice(0, 4096));
  let best = Infinity;
  for (let i = 0; i < 3 && best >= LIMIT_MS; i++) {
    const t = performance.now();
    f(input);
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

/** The adversarial shapes: whitespace runs between, before and after tokens that never end the match. */
function adversarialValues(prefix: string): string[] {
  return [
    `${prefix}x${blanks(KIB100)}y`,
    `${prefix}${blanks(KIB100)}y`,
    `${blanks(KIB100)}${prefix}x`,
    `${prefix}x${' '.repeat(KIB100)}!`,
    `${prefix}${'x '.repeat(KIB100 / 2)}`,
    `${prefix}${'a'.repeat(KIB100)} !`,
    `${prefix}${'\u00a0'.repeat(KIB100)}x`,
  ];
}

const f = createCredentialFixture();
afterAll(() => rmSync(f.dir, { recursive: true, force: true }));

describe('header parsers take linear time on 100 KiB of adversarial whitespace', () => {
  const cases: Array<{ name: string; prefixes: string[]; run: (value: string) => unknown }> = [
    {
      name: 'credential places (Authorization scheme split, x-api-key)',
      prefixes: ['Bearer ', 'Basic ', 'token', ''],
      run: (value) => headerSlots(f.exchange({ host: 'github.com', headers: { authorization: value, 'x-api-key': value } }), new Set(STANDARD_HEADERS)),
    },
    { name: 'splitScheme', prefixes: ['Bearer ', ''], run: (value) => splitScheme(value) },
    { name: 'isSigV4Authorization', prefixes: ['', 'AWS4'], run: (value) => isSigV4Authorization(value) },
    {
      name: 'request texts (Basic decoding for the secret scan)',
      prefixes: ['Basic ', 'basic QUFB', ''],
      run: (value) => requestTexts(f.exchange({ host: 'github.com', headers: { authorization: value } })),
    },
    {
      name: 'SigV4 key ids (Authorization Credential=)',
      prefixes: ['AWS4-HMAC-SHA256 Credential=', 'AWS4-HMAC-SHA256 ,Credential=A', 'AWS4-'],
      run: (value) => sigV4KeyIds(f.exchange({ host: 's3.amazonaws.com', headers: { authorization: value } })),
    },
    {
      name: 'SigV4 Authorization parse',
      prefixes: ['AWS4-HMAC-SHA256 ', 'AWS4-HMAC-SHA256 Credential=AKIA/20240101/us-east-1/s3/aws4_request,', '  AWS4-'],
      run: (value) => findSigV4({ authorization: value, 'x-amz-date': `20240101T000000Z${value}` }, '/'),
    },
    {
      name: 'SigV4 Authorization parse (fields)',
      prefixes: ['AWS4-HMAC-SHA256 SignedHeaders=host;x', 'AWS4-HMAC-SHA256 Signature='],
      run: (value) => parseAuthorizationHeader(value, {}),
    },
    {
      name: 'SigV4 canonical header values',
      prefixes: ['', 'a'],
      run: (value) => canonicalHeaders({ 'x-amz-meta-a': value, 'x-amz-date': value } as HeaderMap, 'h', ['host', 'x-amz-date', 'x-amz-meta-a']),
    },
    { name: 'percent-decoding (query, paths)', prefixes: ['%4', '%41+', ''], run: (value) => decodePercent(value, true) },
    { name: 'minted-token scan', prefixes: ['sluice_mt_', ''], run: (value) => findTokens(value) },
    { name: 'the secret store\'s surrogate and token search, and redaction', prefixes: ['sluice_mt_', ''], run: (value) => [f.store.findSurrogate(value), f.store.redact(value)] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      for (const prefix of c.prefixes) {
        for (const value of adversarialValues(prefix)) {
          const ms = timed(c.run, value, `${prefix} x `);
          expect(ms, `${JSON.stringify(value.slice(0, 40))}… took ${ms.toFixed(2)} ms`).toBeLessThan(LIMIT_MS);
        }
      }
    });
  }

  it('the whole credentials step on a request with adversarial credential headers', () => {
    for (const value of adversarialValues('Bearer ')) {
      const ms = timed((v) => f.step(f.exchange({ host: 'github.com', headers: { authorization: v, 'x-api-key': v } })), value, 'Bearer x');
      expect(ms, `${ms.toFixed(2)} ms`).toBeLessThan(LIMIT_MS);
    }
  });

  it('a run of "sluice_mt_" (each one the start of a token-shaped run) is scanned once', () => {
    const run = 'sluice_mt_'.repeat(KIB100 / 10);
    for (const value of [run, `${run}.`, `${run}.${'a'.repeat(42)}`]) {
      const scans: Array<[string, (v: string) => unknown]> = [
        ['findTokens', findTokens],
        ['store.findSurrogate', (v) => f.store.findSurrogate(v)],
        ['store.redact', (v) => f.store.redact(v)],
        ['credentials step', (v) => f.step(f.exchange({ host: 'github.com', headers: { authorization: `Bearer ${v}` } }))],
      ];
      for (const [name, scan] of scans) {
        const ms = timed(scan, value, 'sluice_mt_x');
        expect(ms, `${name}: ${ms.toFixed(2)} ms`).toBeLessThan(LIMIT_MS);
      }
    }
  });
});

/** Small random strings over an alphabet that exercises every branch. */
function* randomStrings(alphabet: readonly string[], count: number, maxLength: number, seed: number): Generator<string> {
  let state = seed;
  const next = (n: number): number => {
    // xorshift32: deterministic, so a failure can be reproduced.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
  for (let i = 0; i < count; i++) {
    const length = next(maxLength + 1);
    let s = '';
    for (let k = 0; k < length; k++) s += alphabet[next(alphabet.length)];
    yield s;
  }
}

describe('rewritten parsers match the regexes they replace', () => {
  it('splitScheme equals /^(\\s*)(token)(\\s+)(.*?)(\\s*)$/s', () => {
    // The old, quadratic regex: only ever run here, on inputs of at most 12 characters.
    // eslint-disable-next-line regexp/no-super-linear-backtracking
    const OLD = /^(\s*)([!#$%&'*+.^_`|~0-9A-Za-z-]+)(\s+)(.*?)(\s*)$/s;
    const alphabet = [' ', '\t', '\n', '\u00a0', '\ufeff', 'B', 'x', '=', ':', '"', '(', '~'];
    let checked = 0;
    for (const s of randomStrings(alphabet, 20_000, 12, 0x5eed)) {
      const m = OLD.exec(s);
      const expected = m === null ? undefined : { lead: m[1], scheme: m[2], gap: m[3], credential: m[4], trail: m[5] };
      expect(splitScheme(s), JSON.stringify(s)).toEqual(expected);
      checked++;
    }
    expect(checked).toBe(20_000);
  });

  it('findTokens / replaceTokens equal TOKEN_PATTERN\'s matchAll / replace', () => {
    const PATTERN = /sluice_mt_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}/g;
    const sig = 'S'.repeat(43);
    const alphabet = ['sluice_mt_', 'a', '-', '.', ' ', sig, 'S'.repeat(20), '%', 'sluice_m'];
    for (const s of randomStrings(alphabet, 20_000, 10, 0xc0ffee)) {
      expect(findTokens(s), JSON.stringify(s)).toEqual([...s.matchAll(PATTERN)].map((m) => m[0]));
      expect(replaceTokens(s, (t) => `<${t.length}>`)).toBe(s.replace(PATTERN, (t) => `<${t.length}>`));
    }
    expect(findTokens(`x sluice_mt_abc.${sig}Z y`)).toEqual([`sluice_mt_abc.${sig}`]);
    expect(V.githubSurrogate).not.toContain('sluice_mt_');
  });
});
