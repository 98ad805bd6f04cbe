// The access log's writer: lines reach the file in order, at the latest after the interval,
// at once when a batch is full, and everything on flush(); entries become text with their batch.
import { describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openBatchedFile } from '../../src/audit/batched-file.ts';
import { makeTempDir } from '../helpers/temp-dir.ts';

const fresh = (): string => join(makeTempDir('batched'), 'log.ndjson');
/** The entries of these tests are their own lines. */
const asIs = (line: string): string => line;

describe('batched file', () => {
  it('holds lines until flush, then writes them in order', () => {
    const path = fresh();
    const file = openBatchedFile(path, { serialize: asIs, intervalMs: 60_000 });
    for (let i = 0; i < 100; i++) file.write(`{"n":${i}}\n`);
    expect(readFileSync(path, 'utf8')).toBe('');
    file.flush();
    const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { n: number }).n);
    expect(lines).toEqual([...Array(100).keys()]);
    file.close();
  });

  // A batch is full by its count of entries, or by what they hold (sizeOf) reaching batchBytes.
  it.each([
    ['a batch is full', { batchEntries: 2 }],
    ['the entries it holds add up to batchBytes', { sizeOf: (line: string) => line.length, batchBytes: 100 }],
  ] as const)('writes at once when %s', (_when, limits) => {
    const path = fresh();
    const file = openBatchedFile(path, { serialize: asIs, intervalMs: 60_000, ...limits });
    file.write(`${'x'.repeat(60)}\n`);
    expect(readFileSync(path, 'utf8')).toBe('');
    file.write(`${'y'.repeat(60)}\n`);
    expect(readFileSync(path, 'utf8')).toBe(`${'x'.repeat(60)}\n${'y'.repeat(60)}\n`);
    file.close();
  });

  it('writes waiting lines an interval after the first of them, without a flush', () => {
    // A fake clock: the interval is exact, however busy the machine.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const path = fresh();
      const file = openBatchedFile(path, { serialize: asIs, intervalMs: 50 });
      vi.advanceTimersByTime(30);
      file.write('{"late":1}\n');
      vi.advanceTimersByTime(30);
      file.write('{"late":2}\n');
      vi.advanceTimersByTime(19);
      expect(readFileSync(path, 'utf8')).toBe('');
      vi.advanceTimersByTime(1);
      expect(readFileSync(path, 'utf8')).toBe('{"late":1}\n{"late":2}\n');
      file.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('sets no timer while nothing waits: an idle log does not wake the process', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    try {
      const path = fresh();
      const file = openBatchedFile(path, { serialize: asIs, intervalMs: 50 });
      expect(vi.getTimerCount()).toBe(0);
      file.write('a\n');
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(50);
      expect(readFileSync(path, 'utf8')).toBe('a\n');
      expect(vi.getTimerCount()).toBe(0);
      file.write('b\n');
      file.flush();
      expect(vi.getTimerCount()).toBe(0);
      file.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('appends to an existing file and writes what is left on close', () => {
    const path = fresh();
    const first = openBatchedFile(path, { serialize: asIs, intervalMs: 60_000 });
    first.write('a\n');
    first.close();
    const second = openBatchedFile(path, { serialize: asIs, intervalMs: 60_000 });
    second.write('b\n');
    second.close();
    expect(readFileSync(path, 'utf8')).toBe('a\nb\n');
  });

  it('serialises entries when their batch is written, in the order they were queued', () => {
    const path = fresh();
    const seen: number[] = [];
    const file = openBatchedFile<{ n: number }>(path, {
      serialize: (e) => {
        seen.push(e.n);
        return `${e.n}\n`;
      },
      intervalMs: 60_000,
      batchEntries: 3,
    });
    file.write({ n: 1 });
    file.write({ n: 2 });
    expect(seen).toEqual([]);
    file.write({ n: 3 });
    expect(seen).toEqual([1, 2, 3]);
    file.write({ n: 4 });
    file.close();
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(readFileSync(path, 'utf8')).toBe('1\n2\n3\n4\n');
  });

  it('keeps what the disk refused as text, says so once, and keeps accepting entries', () => {
    // /dev/full refuses every write (ENOSPC), as a full log volume does.
    const errors: string[] = [];
    let serialised = 0;
    const file = openBatchedFile<string>('/dev/full', {
      serialize: (line) => {
        serialised++;
        return line;
      },
      intervalMs: 60_000,
      batchEntries: 2,
      maxPendingBytes: 64,
      onError: (err) => errors.push((err as NodeJS.ErrnoException).code ?? err.message),
    });
    for (let i = 0; i < 10; i++) file.write(`${'x'.repeat(30)}\n`);
    file.flush();
    file.flush();
    expect(errors).toEqual(['ENOSPC']);
    // Each entry was turned into text once: retries write the kept text, not the entries again.
    expect(serialised).toBe(10);
    file.close();
  });

  it('loses only the entry it cannot serialise, says why, and writes the rest of the batch', () => {
    const path = fresh();
    const errors: string[] = [];
    const file = openBatchedFile<number>(path, {
      serialize: (n) => {
        if (n === 2) throw new Error('cannot serialise 2');
        return `${n}\n`;
      },
      intervalMs: 60_000,
      onError: (err) => errors.push(err.message),
    });
    for (const n of [1, 2, 3]) file.write(n);
    file.flush();
    expect(readFileSync(path, 'utf8')).toBe('1\n3\n');
    expect(errors).toEqual(['cannot serialise 2']);
    file.close();
  });
});
