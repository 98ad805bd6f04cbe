// The access log's writer on a disk that fills up (a real tmpfs, then grown): a write the disk
// cut off mid-line is completed once there is room, never repeated or torn, and what waits
// while the disk refuses stays bounded (oldest whole lines dropped).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBatchedFile } from '../../src/audit/batched-file.ts';
import { skipSuite } from '../helpers/tools.ts';

const skipReason = skipSuite('access log on a full disk (tmpfs)',
  process.platform !== 'linux' ? 'needs Linux (tmpfs)' : process.getuid?.() !== 0 ? 'needs root (mounts a tmpfs): run npm test as root, or CI=true' : undefined);

/** 100-byte lines, numbered. */
const line = (n: number): string => `line-${String(n).padStart(5, '0')} ${'x'.repeat(88)}\n`;
const asIs = (l: string): string => l;

describe.skipIf(skipReason !== undefined)('batched file on a full disk', () => {
  let dir = '';
  /** Closed after each test even when it failed: an open file would keep the tmpfs mounted. */
  let file: { close(): void } | undefined;
  const open = <T>(...args: Parameters<typeof openBatchedFile<T>>): ReturnType<typeof openBatchedFile<T>> => {
    const opened = openBatchedFile<T>(...args);
    file = opened;
    return opened;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', dir]);
  });
  afterEach(() => {
    try {
      file?.close();
    } catch {
      // a full disk may refuse the last flush; the mount goes either way
    }
    file = undefined;
    execFileSync('umount', ['--lazy', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  const grow = (): void => {
    execFileSync('mount', ['-o', 'remount,size=1m', dir]);
  };

  it('completes a line the disk cut off, once there is room, and writes every line once, in order', () => {
    const errors: string[] = [];
    const path = join(dir, 'access.ndjson');
    const file = open<string>(path, { serialize: asIs, intervalMs: 60_000, batchEntries: 10_000, onError: (e) => errors.push((e as NodeJS.ErrnoException).code ?? e.message) });
    for (let i = 0; i < 300; i++) file.write(line(i));
    file.flush();
    const cut = readFileSync(path, 'utf8');
    expect(errors).toEqual(['ENOSPC']);
    // The disk took part of the batch, ending mid-line (16 KiB of 100-byte lines).
    expect(cut.length).toBeGreaterThan(0);
    expect(cut.length).toBeLessThan(300 * 100);
    expect(cut.endsWith('\n')).toBe(false);
    file.flush(); // still full: nothing repeated
    expect(readFileSync(path, 'utf8')).toBe(cut);
    grow();
    for (let i = 300; i < 310; i++) file.write(line(i));
    file.flush();
    expect(readFileSync(path, 'utf8')).toBe(Array.from({ length: 310 }, (_, i) => line(i)).join(''));
    file.close();
  });

  it('keeps at most maxPendingBytes of refused lines: the newest whole lines, after completing the cut one', () => {
    const path = join(dir, 'access.ndjson');
    const file = open<string>(path, { serialize: asIs, intervalMs: 60_000, batchEntries: 10_000, maxPendingBytes: 2_000 });
    for (let i = 0; i < 300; i++) file.write(line(i));
    file.flush();
    for (let i = 300; i < 400; i++) file.write(line(i));
    file.flush();
    grow();
    file.flush();
    file.close();
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    // Every line whole, numbers rising, the newest kept, older refused ones dropped.
    for (const l of lines) expect(l).toMatch(/^line-\d{5} x{88}$/);
    const numbers = lines.map((l) => Number(l.slice(5, 10)));
    for (let i = 1; i < numbers.length; i++) expect(numbers[i]).toBeGreaterThan(numbers[i - 1] as number);
    expect(numbers.at(-1)).toBe(399);
    expect(numbers.length).toBeLessThan(400);
    const dropped = 400 - numbers.length;
    expect(dropped).toBeGreaterThan(100);
  });
});
