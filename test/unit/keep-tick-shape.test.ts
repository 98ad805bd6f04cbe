// One nextTick entry is kept alive from start-up (src/runtime/keep-tick-shape.ts) so that a full
// GC while no entry lives cannot free the maps nextTick's inline caches hold, which would leave
// them megamorphic and every later nextTick defining its entry in V8's runtime (~6 % of sluice's
// CPU under keep-alive load). The child processes read nextTick's feedback with V8's
// %DebugPrint: without the kept entry a memory-reducing GC between two bursts of ticks turns the
// caches megamorphic (this is what the test guards against; it fails if that stops being true,
// so the module's reason to exist is re-examined), with it they stay monomorphic.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { keepTickShape, keptTickEntry } from '../../src/runtime/keep-tick-shape.ts';

const src = (path: string): string => new URL(`../../src/runtime/${path}`, import.meta.url).href;

const CHILD = `
import { keepTickShape } from '${src('keep-tick-shape.ts')}';
import { takeGcFunction } from '${src('gc-function.ts')}';
if (process.env.KEEP === '1') keepTickShape();
const ticks = (n) => new Promise((resolve) => {
  let left = n;
  for (let i = 0; i < n; i++) process.nextTick(() => { if (--left === 0) resolve(); }, i);
});
await ticks(2000);
await new Promise((resolve) => setTimeout(resolve, 20));
takeGcFunction()({ type: 'major', execution: 'sync', flavor: 'last-resort' });
await ticks(2000);
%DebugPrint(process.nextTick);
`;

function nextTickDefineStates(keep: boolean): string[] {
  const child = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', CHILD], {
    env: { ...process.env, KEEP: keep ? '1' : '0' },
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    timeout: 30_000,
  });
  expect(child.status, child.stderr).toBe(0);
  return [...child.stdout.matchAll(/DefineKeyedOwnPropertyInLiteral (\w+)/g)].map((m) => m[1] as string);
}

describe('keepTickShape', () => {
  it('keeps a nextTick queue entry: the callback it ran, with its async ids', async () => {
    keepTickShape();
    await new Promise((resolve) => process.nextTick(resolve));
    const entry = keptTickEntry() as { callback?: unknown; args?: unknown } | undefined;
    expect(typeof entry?.callback).toBe('function');
    expect(Object.getOwnPropertySymbols(entry).length).toBeGreaterThanOrEqual(2);
  });

  it('a full GC while no entry lives leaves nextTick megamorphic, unless an entry is kept', () => {
    const without = nextTickDefineStates(false);
    const kept = nextTickDefineStates(true);
    expect(without.length).toBeGreaterThanOrEqual(3);
    expect(without).toContain('MEGAMORPHIC');
    expect(kept.length).toBe(without.length);
    expect(kept.every((state) => state === 'MONOMORPHIC')).toBe(true);
  });
});
