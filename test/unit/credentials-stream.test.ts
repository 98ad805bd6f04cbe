// The fixed window that finds and replaces values across chunk boundaries.
import { describe, expect, it } from 'vitest';
import { createStreamReplacer, createStreamScanner, type ScanResult } from '../../src/credentials/stream-replace.ts';
import { formsPattern, literalPattern } from '../../src/credentials/secret-forms.ts';

const b = (s: string): Buffer => Buffer.from(s);

function literalReplacer(pairs: Array<[string, string]>) {
  const tos = pairs.map(([, to]) => b(to));
  return createStreamReplacer(literalPattern(pairs.map(([from]) => b(from))), (_raw, needle) => tos[needle.value] as Buffer);
}

function runReplacer(pairs: Array<[string, string]>, chunks: string[]): string {
  const r = literalReplacer(pairs);
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

  it('holds back a fixed window (longest needle − 1 bytes), whatever the bytes are', () => {
    const r = literalReplacer([['SECRET', 'X']]);
    // Five bytes held whether or not they could start the value: the count tells nothing.
    expect(r.push(b('event: SEC')).toString()).toBe('event');
    expect(r.push(b('OND')).toString()).toBe(': S');
    expect(r.push(b('event: xyz')).toString()).toBe('ECONDevent');
    expect(r.end().toString()).toBe(': xyz');
    expect(r.replaced).toBe(0);
  });

  it('releases everything up to the last line feed at once (an SSE event is not held)', () => {
    const r = literalReplacer([['SECRET', 'X']]);
    expect(r.push(b('data: {"a":1}\n\n')).toString()).toBe('data: {"a":1}\n\n');
    expect(r.push(b('data: SEC')).toString()).toBe('data');
    expect(r.push(b('RET\n\nda')).toString()).toBe(': X\n\n');
    expect(r.end().toString()).toBe('da');
  });

  it('flush releases the window mid-stream and the stream goes on', () => {
    const r = literalReplacer([['SECRET', 'X']]);
    expect(r.push(b('ping SECR')).toString()).toBe('ping');
    expect(r.flush().toString()).toBe(' SECR');
    expect(r.push(b('ET SECRET pong')).toString()).toBe('ET X');
    expect(r.flush().toString()).toBe(' pong');
    expect(r.replaced).toBe(1);
  });

  it('releases what it held at the end', () => {
    expect(runReplacer([['SECRET', 'X']], ['abc SECR'])).toBe('abc SECR');
  });

  it('counts replacements', () => {
    const r = literalReplacer([['ab', 'X']]);
    r.push(b('abab a'));
    r.push(b('b'));
    r.end();
    expect(r.replaced).toBe(3);
  });

  it('never splits an escape it decides on: a percent-encoded value cut anywhere is replaced whole', () => {
    const pattern = formsPattern([{ text: 'secret/value+1', base64: false }]);
    const text = `x=${encodeURIComponent('secret/value+1')}&y=%2`;
    for (const chunks of splits(text)) {
      const r = createStreamReplacer(pattern, () => b('S'));
      expect(Buffer.concat([...chunks.map((c) => r.push(b(c))), r.end()]).toString()).toBe('x=S&y=%2');
    }
  });
});

describe('escapes at the edge of the window', () => {
  const jsonEvery = (s: string): string => [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');

  it('an escape cut by the window edge is read as it was, not again from its middle', () => {
    // "\\" is an escaped backslash, so the "\u0061…" after it is text, not the secret. Read
    // again from the second backslash, it would decode to the secret: cut there in every way.
    const pattern = formsPattern([{ text: 'abcdefgh', base64: false }]);
    const text = `${'x'.repeat(70)}\\${jsonEvery('abcdefgh')} and ${jsonEvery('abcdefgh')}`;
    const expected = `${'x'.repeat(70)}\\${jsonEvery('abcdefgh')} and S`;
    for (let i = 0; i <= text.length; i++) {
      const r = createStreamReplacer(pattern, () => b('S'));
      expect(Buffer.concat([r.push(b(text.slice(0, i))), r.push(b(text.slice(i))), r.end()]).toString(), `cut at ${i}`).toBe(expected);
    }
    const quoted = `${'x'.repeat(70)}\\${jsonEvery('abcdefgh')}`;
    for (let i = 0; i <= quoted.length; i++) {
      const s = createStreamScanner(pattern);
      const results = [s.push(b(quoted.slice(0, i))), s.push(b(quoted.slice(i))), s.end()];
      expect(results.some((r) => 'found' in r), `cut at ${i}`).toBe(false);
    }
  });
});

describe('stream scanner', () => {
  function scan(needles: string[], chunks: string[]): { found: number | undefined; released: string } {
    const s = createStreamScanner(literalPattern(needles.map(b)));
    let released = '';
    const take = (r: ScanResult): number | undefined => {
      if ('found' in r) return r.found.value;
      released += r.pass.toString();
      return undefined;
    };
    for (const c of chunks) {
      const found = take(s.push(b(c)));
      if (found !== undefined) return { found, released };
    }
    return { found: take(s.end()), released };
  }

  it('finds a needle split at every point before any of it is released', () => {
    for (const chunks of splits('prefix-bytes NEEDLE suffix')) {
      const { found, released } = scan(['zzz', 'NEEDLE'], chunks);
      expect(found).toBe(1);
      expect(released).not.toContain('N');
    }
  });

  it('passes everything through when no needle occurs', () => {
    expect(scan(['NEEDLE'], ['abc NEE', 'DL', 'X more'])).toEqual({ found: undefined, released: 'abc NEEDLX more' });
  });
});
