// The access log's writer: lines reach the file in order, at the latest after the interval,
// at once when a batch is full, and everything on flush().
import { describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openBatchedFile } from '../../src/audit/batched-file.ts';
import { makeTempDir } from '../helpers/temp-dir.ts';

const fresh = (): string => join(makeTempDir('batched'), 'log.ndjson');

describe('batched file', () => {
  it('holds lines until flush, then writes them in order', () => {
    const path = fresh();
    const file = openBatchedFile(path, { intervalMs: 60_000 });
    for (let i = 0; i < 100; i++) file.write(`{"n":${i}}\n`);
    expect(readFileSync(path, 'utf8')).toBe('');
    file.flush();
    const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { n: number }).n);
    expect(lines).toEqual([...Array(100).keys()]);
    file.close();
  });

  it('writes at once when a batch is full', () => {
    const path = fresh();
    const file = openBatchedFile(path, { intervalMs: 60_000, batchBytes: 100 });
    file.write(`${'x'.repeat(60)}\n`);
    expect(readFileSync(path, 'utf8')).toBe('');
    file.write(`${'y'.repeat(60)}\n`);
    expect(readFileSync(path, 'utf8')).toBe(`${'x'.repeat(60)}\n${'y'.repeat(60)}\n`);
    file.close();
  });

  it('writes waiting lines after the interval without a flush', () => {
    // A fake clock: the interval is exact, however busy the machine.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const path = fresh();
      const file = openBatchedFile(path, { intervalMs: 50 });
      file.write('{"late":true}\n');
      vi.advanceTimersByTime(49);
      expect(readFileSync(path, 'utf8')).toBe('');
      vi.advanceTimersByTime(1);
      expect(readFileSync(path, 'utf8')).toBe('{"late":true}\n');
      file.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('appends to an existing file and writes what is left on close', () => {
    const path = fresh();
    const first = openBatchedFile(path, { intervalMs: 60_000 });
    first.write('a\n');
    first.close();
    const second = openBatchedFile(path, { intervalMs: 60_000 });
    second.write('b\n');
    second.close();
    expect(readFileSync(path, 'utf8')).toBe('a\nb\n');
  });
});
