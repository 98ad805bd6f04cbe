// Two configured values may share a run of bytes (the end of one is the start of the other), and
// an echo may hold them overlapped: `isPrototypeOa` and `SisPrototype` in base64("us" +
// "isPrototypeOa"). The scrub must leave no byte of either value, however the response is cut
// into chunks, must not grow the text by more than one surrogate per replacement, and a
// promised length must stay true. (Found by the property test in scanner-property.test.ts,
// fast-check seed -1990159133: two characters of the value that started second were left.) The
// surrogate swap on the request side keeps split/join's meaning: one match after another.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formsPattern, literalPattern, type FormNeedle, type ScanPattern } from '../../src/credentials/secret-forms.ts';
import { replacementFor } from '../../src/credentials/same-form.ts';
import { createStreamReplacer, replaceAll, type StreamReplacer } from '../../src/credentials/stream-replace.ts';
import { createCredentialFixture } from '../helpers/credentials-fixture.ts';

const SURROGATES = ['SURROGATE-A-0001', 'SURROGATE-B-0002'];
const SAFE = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/+-_.~';

const patternFor = (values: readonly string[]): ScanPattern => formsPattern(values.map((text) => ({ text, base64: true })));
/** As the secret store's scrub does it: a tail takes no more bytes than it had. */
const replace = (keepLength: boolean) => (raw: Buffer, needle: FormNeedle, tail: boolean) =>
  replacementFor(raw, needle, SURROGATES[needle.value] as string, keepLength || tail);

function oneShot(pattern: ScanPattern, input: string, keepLength = false): string {
  return replaceAll(pattern, Buffer.from(input), replace(keepLength), { overlaps: true }).toString();
}

/** `input` pushed in pieces of `sizes` (the rest in one), then the end: the whole output. */
function pushAll(r: StreamReplacer, input: string, sizes: readonly number[]): string {
  const bytes = Buffer.from(input);
  const out: Buffer[] = [];
  let at = 0;
  for (const n of sizes) {
    if (at >= bytes.length) break;
    out.push(r.push(bytes.subarray(at, at + n)));
    at += n;
  }
  if (at < bytes.length) out.push(r.push(bytes.subarray(at)));
  out.push(r.end());
  return Buffer.concat(out).toString();
}

function streamed(pattern: ScanPattern, input: string, sizes: readonly number[], keepLength = false): string {
  return pushAll(createStreamReplacer(pattern, replace(keepLength), { overlaps: true }), input, sizes);
}

const trimStars = (text: string): string => {
  let end = text.length;
  while (end > 0 && text[end - 1] === '*') end--;
  return text.slice(0, end);
};

/** Every way of cutting `input` in two, and byte by byte. */
function chunkings(input: string): number[][] {
  const cuts = [...Array(input.length).keys()].map((i) => [i + 1]);
  return [...cuts, Array<number>(input.length).fill(1)];
}

/** The base64 run of `out` between the bars, with markers, padding and `keep` leading characters taken off. */
function leftOfBase64(out: string, keep: number): string {
  let rest = out.slice(1, -1).slice(keep).replace(/^(REDACTED)+[A-Z]*/, '');
  while (rest.endsWith('=')) rest = rest.slice(0, -1);
  return rest;
}

describe('scrub: values that overlap in an echo', () => {
  const values = ['isPrototypeOa', 'SisPrototype'];
  const pattern = patternFor(values);

  it('the counterexample: base64 of "us" + isPrototypeOa leaves nothing of either value, split anywhere', () => {
    const input = `|${Buffer.from('usisPrototypeOa').toString('base64')}|`;
    const whole = oneShot(pattern, input);
    // "dX" decodes "u" and 4 bits of "s": the pad's own characters. Everything after is marker.
    expect(whole).toMatch(/^\|dREDACTEDREDACTED[A-Z]*\|$/);
    expect(whole.length).toBe(input.length);
    for (const sizes of chunkings(input)) expect(streamed(pattern, input, sizes)).toBe(whole);
  });

  it('a literal echo of two overlapped values becomes the first surrogate, then as much of the second as fits, split anywhere', () => {
    const a = 'abcdefgh12';
    const b = 'gh12ijklmn';
    const p = patternFor([a, b]);
    for (const [form, encode, decode] of [
      ['literal', (s: string) => s, (s: string) => s],
      ['percent-encoded', (s: string) => [...Buffer.from(s)].map((x) => `%${x.toString(16)}`).join(''), decodeURIComponent],
      ['JSON \\u', (s: string) => [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''), (s: string) => JSON.parse(`"${s}"`) as string],
    ] as const) {
      const input = `|${encode('abcdefgh12ijklmn')}|`;
      const whole = oneShot(p, input);
      // The tail ("ijklmn", in the echo's form) takes as many characters of B's surrogate.
      expect(decode(whole.slice(1, -1)), form).toBe(`${SURROGATES[0]}${(SURROGATES[1] as string).slice(0, 6)}`);
      for (const sizes of chunkings(input)) expect(streamed(p, input, sizes), `${form} cut at ${sizes[0]}`).toBe(whole);
    }
  });

  it('a promised length stays true, and no character of the second value is left', () => {
    const a = 'abcdefgh12';
    const b = 'gh12ijklmn';
    const p = patternFor([a, b]);
    const input = '|abcdefgh12ijklmn|';
    const whole = oneShot(p, input, true);
    expect(whole.length).toBe(input.length);
    expect(whole).not.toMatch(/[ijklmn]/);
    for (const sizes of chunkings(input)) expect(streamed(p, input, sizes, true)).toBe(whole);
  });

  it('random overlapping values, in every echoed form, at random chunkings', () => {
    const forms = (text: string, pad: string): Array<{ encoded: string; decode?: (s: string) => string }> => [
      { encoded: text, decode: (s) => s },
      { encoded: encodeURIComponent(text), decode: decodeURIComponent },
      { encoded: JSON.stringify(text).slice(1, -1).replaceAll('/', '\\/'), decode: (s) => JSON.parse(`"${s}"`) as string },
      { encoded: Buffer.from(`${pad}${text}`).toString('base64') },
      { encoded: Buffer.from(`${pad}${text}`).toString('base64url') },
    ];
    const valueArb = (min: number) => fc.string({ unit: fc.constantFrom(...SAFE), minLength: min, maxLength: 24 });
    fc.assert(
      fc.property(
        valueArb(4),
        valueArb(8),
        valueArb(4),
        fc.constantFrom('', 'u', 'us'),
        fc.nat({ max: 4 }),
        fc.array(fc.integer({ min: 1, max: 24 }), { maxLength: 40 }),
        fc.boolean(),
        (head, shared, tail, pad, f, sizes, keepLength) => {
          const a = `${head}${shared}`;
          const b = `${shared}${tail}`;
          const merged = `${head}${shared}${tail}`;
          // Each value where it was put, and nowhere else; neither holds the other (the store's rule).
          fc.pre(!a.includes(b) && !b.includes(a) && merged.indexOf(a) === merged.lastIndexOf(a) && merged.indexOf(b) === merged.lastIndexOf(b));
          fc.pre(!SURROGATES.some((s) => s.includes(shared.slice(0, 4))));
          const p = patternFor([a, b]);
          const form = forms(merged, pad)[f] as { encoded: string; decode?: (s: string) => string };
          const input = `|${form.encoded}|`;
          const whole = oneShot(p, input, keepLength);
          expect(streamed(p, input, sizes, keepLength)).toBe(whole);
          if (keepLength) expect(Buffer.byteLength(whole)).toBe(Buffer.byteLength(input));
          if (form.decode !== undefined && !keepLength) {
            const decoded = form.decode(whole.slice(1, -1));
            expect(decoded.startsWith(SURROGATES[0] as string)).toBe(true);
            // The tail: whole characters of B's surrogate while they fit, then '*'.
            expect((SURROGATES[1] as string).startsWith(trimStars(decoded.slice((SURROGATES[0] as string).length)))).toBe(true);
          } else if (form.decode === undefined) {
            // The pad's own characters (up to 2), then markers; at most 2 more characters decide
            // a few bits of the last value's end.
            const keep = Math.ceil((pad.length * 8) / 6) - (pad.length === 0 ? 0 : 1);
            expect(leftOfBase64(whole, keep).length).toBeLessThanOrEqual(2);
          } else {
            expect(whole).not.toContain(tail.length >= 3 ? tail : merged.slice(-3));
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('a value inside another, both overlapping a third: a match is decided only when all of it is in view', () => {
    // Found by the attacker review: deciding an overlap that started in the window let a short
    // value nested in a longer one take its place when the stream was cut there.
    const p = patternFor(['HHHHHHSSSS', 'SSSSTTTTUUUUVVVVWWWW', 'SSTTTT']);
    const jsonEvery = (text: string): string => [...text].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
    const input = `|${jsonEvery('HHHHHHSSSSTTTTUUUUVVVVWWWW')}|`;
    const whole = oneShot(p, input);
    expect(JSON.parse(`"${whole.slice(1, -1)}"`)).toBe(`${SURROGATES[0]}${(SURROGATES[1] as string).slice(0, 16)}`);
    for (const sizes of chunkings(input)) expect(streamed(p, input, sizes), `cut at ${sizes[0]}`).toBe(whole);
  });

  it('a run of a value that overlaps itself grows the text by one replacement at most, and leaves none of it', () => {
    const p = patternFor(['aaaaaaaaaaaa']);
    for (const run of ['a', '\\u0061', '%61']) {
      const input = `|${run.repeat(4096)}|`;
      const whole = oneShot(p, input);
      // One surrogate, written as the echo was (up to 6 bytes a character as \u0053).
      expect(Buffer.byteLength(whole), run).toBeLessThanOrEqual(Buffer.byteLength(input) + 6 * (SURROGATES[0] as string).length);
      expect(whole.slice(1, -1)).not.toMatch(/a|\\u0061|%61/);
      expect(streamed(p, input, [1000, 1, 7, 3000])).toBe(whole);
    }
  });
});

describe('surrogate swap (request side): one match after another, as split/join', () => {
  it('overlapping surrogates are swapped once, so a same-length swap keeps the length', () => {
    const to = 'real-secret-value';
    for (const [from, input] of [
      ['SURR-0123456-SURR', '{"a":"SURR-0123456-SURR-0123456-SURR"}'],
      ['xxxxxxxxxxxxxxxx', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    ] as const) {
      const pattern = literalPattern([Buffer.from(from)]);
      const want = input.split(from).join(to);
      for (const sizes of [[input.length], [9, 9, 9, 9, 9], Array<number>(input.length).fill(1)]) {
        const out = pushAll(createStreamReplacer(pattern, () => Buffer.from(to)), input, sizes);
        expect(out, `${input} in ${sizes.length} pieces`).toBe(want);
      }
    }
  });
});

describe("the secret store's scrub, redact and response scrubber", () => {
  const realA = 'alpha-SHAREDRUN-12345';
  const realB = 'SHAREDRUN-12345-omega';
  const f = createCredentialFixture(
    (dir) => `
[proxy]
ca_dir = "${dir}/certs"
log_dir = "${dir}/logs"

[[allow]]
host = "echo.test"

[credentials.a]
hosts = ["echo.test"]
surrogate = "surrogate-for-a-000001"
secret = { env = "T_A" }

[credentials.b]
hosts = ["echo.test"]
surrogate = "surrogate-for-b-000002"
secret = { env = "T_B" }
`,
    { T_A: realA, T_B: realB },
  );
  const echo = `{"echo":"alpha-SHAREDRUN-12345-omega","b64":"${Buffer.from('us:alpha-SHAREDRUN-12345-omega').toString('base64')}"}`;
  const leftovers = (out: string): string[] => ['alpha', 'omega', 'SHAREDRUN', 'b21lZ2', 'ZWdh'].filter((piece) => out.includes(piece));

  it('leave nothing of either value in a text', () => {
    expect(leftovers(f.store.scrub(echo))).toEqual([]);
    expect(f.store.scrub(echo)).toContain('surrogate-for-a-000001');
    const redacted = f.store.redact(echo);
    expect(leftovers(redacted)).toEqual([]);
    expect(redacted).toContain('[REDACTED:a]');
  });

  it('leave nothing of either value in a body cut anywhere, and keep a promised length', () => {
    for (const keepLength of [false, true]) {
      for (let at = 1; at < echo.length; at++) {
        const out = pushAll(f.store.responseScrubber(keepLength), echo, [at]);
        expect(leftovers(out), `cut at ${at}`).toEqual([]);
        if (keepLength) expect(out.length).toBe(echo.length);
      }
    }
  });
});
