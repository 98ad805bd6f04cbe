// budget.json's writer: written off the event loop, at most every 200 ms, one write at a time
// (the file never goes back to an older state), atomically (no temporary file left), and all
// that is pending on flush().
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createStateWriter } from '../../src/budget/state-file.ts';
import { emptyDay, type DayState } from '../../src/budget/ledger.ts';
import { makeTempDir } from '../helpers/temp-dir.ts';

const day = (tokens: number): DayState => ({ ...emptyDay(Date.now()), tokens });
const saved = (dir: string): number | undefined => (existsSync(join(dir, 'budget.json')) ? (JSON.parse(readFileSync(join(dir, 'budget.json'), 'utf8')) as DayState).tokens : undefined);

describe('budget state writer', () => {
  it('writes a save without blocking the caller, then at most one more per 200 ms', async () => {
    const dir = makeTempDir('budget-state');
    const writer = createStateWriter(dir, (err) => {
      throw err;
    });
    writer.save(day(1));
    // The write is under way in libuv's pool, not done in save().
    expect(saved(dir)).toBeUndefined();
    await expect.poll(() => saved(dir), { timeout: 1_000, interval: 5 }).toBe(1);
    const first = Date.now();
    writer.save(day(2));
    writer.save(day(3));
    await expect.poll(() => saved(dir), { timeout: 1_000, interval: 5 }).toBe(3);
    expect(Date.now() - first).toBeGreaterThanOrEqual(150);
    expect(readdirSync(dir)).toEqual(['budget.json']);
  });

  it('flush() waits for the write under way and writes what came after it, now', async () => {
    const dir = makeTempDir('budget-state');
    const writer = createStateWriter(dir, (err) => {
      throw err;
    });
    writer.save(day(1));
    writer.save(day(2)); // pending behind the write of 1 and the 200 ms spacing
    await writer.flush();
    expect(saved(dir)).toBe(2);
    expect(readdirSync(dir)).toEqual(['budget.json']);
    await writer.flush(); // nothing pending
    expect(saved(dir)).toBe(2);
  });

  it('reports a write that fails instead of throwing', async () => {
    const dir = join(makeTempDir('budget-state'), 'missing');
    const errors: unknown[] = [];
    const writer = createStateWriter(dir, (err) => errors.push(err));
    writer.save(day(1));
    await writer.flush();
    expect(errors).toHaveLength(1);
    expect((errors[0] as NodeJS.ErrnoException).code).toBe('ENOENT');
  });
});
