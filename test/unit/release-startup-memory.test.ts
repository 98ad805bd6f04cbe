// After start-up sluice hands back what its young generation grew to (src/runtime/
// release-startup-memory.ts): an idle sidecar kept ~6.5 MiB of mostly empty new space, and V8
// shrinks it only in a GC that aims to reduce memory. This fails if Node stops offering gc() to
// a fresh context, or if that GC stops shrinking the young generation.
import { describe, expect, it } from 'vitest';
import { getHeapSpaceStatistics } from 'node:v8';
import { releaseStartupMemory } from '../../src/runtime/release-startup-memory.ts';

const newSpaceKib = (): number => (getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.physical_space_size ?? NaN) / 1024;

describe('releaseStartupMemory', () => {
  it('shrinks the young generation that a burst of allocation grew, and leaves no gc global', () => {
    // A start-up's worth of short-lived objects, some kept a while (so V8 grows the new space).
    let kept: object[] = [];
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < 20_000; i++) kept.push({ i, s: `start-up ${i}` });
      kept = kept.slice(-20_000);
    }
    const grown = newSpaceKib();
    kept = [];
    expect(releaseStartupMemory()).toBe(true);
    const after = newSpaceKib();
    expect(grown).toBeGreaterThan(2048);
    expect(after).toBeLessThan(grown / 2);
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  });
});
