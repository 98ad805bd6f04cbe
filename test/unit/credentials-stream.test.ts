// The sliding window that finds and replaces values across chunk boundaries.
import { describe, expect, it } from 'vitest';
import { createStreamReplacer, createStreamScanner } from '../../src/credentials/stream-replace.ts';

const b = (s: string): Buffer => Buffer.from(s);

function runReplacer(pairs: Array<[string, string]>, chunks: string[]): string {
  const r = createStreamReplacer(pairs.map(([from, to]) => ({ from: b(from), to: b(to) })));
  return Buffer.concat([...chunks.map((c) => r.push(b(c))), r.end()]).toString();
}

/** Every way to cut `text` into two or three chunks. */
function splits(text: string): string[][] {
  const out: string[][] = [[text]];
  for (let i = 0; i <= text.length; i++) {
    out.push([text.slice(0, i), text.slice(i)]);
    for (let j = i; j <= text.length; j++) out.push([text.slice(0, i), text.slice(i, j), text.slice(j)]);
  }
  return out;
}

describe('stream replacer', () => {
  it('replaces a value split at every possible point, into two or three chunks', () => {
    const text = 'a=SECRET1&b=xSECRET1y&SECRET';
    for (const chunks of splits(text)) {
      expect(runReplacer([['SECRET1', 'surrogate-longer']], chunks)).toBe('a=surrogate-longer&b=xsurrogate-longery&SECRET');
    }
  });

  it('replaces several values, shorter or longer than their replacements', () => {
    const text = '<Key>AKIAREAL</Key><Secret>verylongrealsecret</Secret>';
    for (const chunks of splits(text)) {
      expect(runReplacer([['AKIAREAL', 'AKIASURROGATE'], ['verylongrealsecret', 'short']], chunks))
        .toBe('<Key>AKIASURROGATE</Key><Secret>short</Secret>');
    }
  });

  it('holds back only a suffix that could start a value, so streamed events are not delayed', () => {
    const r = createStreamReplacer([{ from: b('SECRET'), to: b('X') }]);
    expect(r.push(b('data: {"a":1}\n\n')).toString()).toBe('data: {"a":1}\n\n');
    expect(r.push(b('event: SEC')).toString()).toBe('event: ');
    expect(r.push(b('OND')).toString()).toBe('SECOND');
    expect(r.end().length).toBe(0);
    expect(r.replaced).toBe(0);
  });

  it('returns the same buffer when nothing matched and nothing is held', () => {
    const r = createStreamReplacer([{ from: b('SECRET'), to: b('X') }]);
    const chunk = b('nothing to see');
    expect(r.push(chunk)).toBe(chunk);
  });

  it('releases a held partial match at the end', () => {
    expect(runReplacer([['SECRET', 'X']], ['abc SECR'])).toBe('abc SECR');
  });

  it('counts replacements', () => {
    const r = createStreamReplacer([{ from: b('ab'), to: b('X') }]);
    r.push(b('abab a'));
    r.push(b('b'));
    r.end();
    expect(r.replaced).toBe(3);
  });
});

describe('stream scanner', () => {
  it('finds a needle split at every point before any of it is released', () => {
    const text = 'prefix-bytes NEEDLE suffix';
    for (const chunks of splits(text)) {
      const s = createStreamScanner([b('zzz'), b('NEEDLE')]);
      let released = '';
      let found: number | undefined;
      for (const c of chunks) {
        const r = s.push(b(c));
        if ('found' in r) {
          found = r.found;
          break;
        }
        released += r.pass.toString();
      }
      expect(found).toBe(1);
      expect(released).not.toContain('N');
    }
  });

  it('passes everything through when no needle occurs', () => {
    const s = createStreamScanner([b('NEEDLE')]);
    const parts: string[] = [];
    for (const c of ['abc NEE', 'DL', 'X more']) {
      const r = s.push(b(c));
      if ('pass' in r) parts.push(r.pass.toString());
    }
    parts.push(s.end().toString());
    expect(parts.join('')).toBe('abc NEEDLX more');
  });
});
