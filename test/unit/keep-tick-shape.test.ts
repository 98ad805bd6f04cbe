// One nextTick entry is kept alive from start-up (src/runtime/keep-tick-shape.ts) so that a full
// GC while no entry lives cannot free the maps nextTick's inline caches hold, which would leave
// them megamorphic and every later nextTick defining its entry in V8's runtime (~6 % of sluice's
// CPU under keep-alive load). The child processes read nextTick's feedback with V8's
// %DebugPrint: without the kept entry a memory-reducing GC between two bursts of ticks turns the
// caches megamorphic (this is what the test guards against; it fails if that stops being true,
// so the module's reason to exist is re-examined), with it they stay monomorphic.
// The image runs a rolldown bundle, where a store nothing reads is dropped: the last test runs
// the child on the module as bundled with the image's options (rolldown.config.ts).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'rolldown';
import config from '../../rolldown.config.ts';
import { keepTickShape, keptTickEntry } from '../../src/runtime/keep-tick-shape.ts';
import { makeTempDir } from '../helpers/temp-dir.ts';

const src = (path: string): string => new URL(`../../src/runtime/${path}`, import.meta.url).href;

const child = (keepTickModule: string): string => `
import { keepTickShape } from '${keepTickModule}';
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

function nextTickDefineStates(keep: boolean, keepTickModule = src('keep-tick-shape.ts')): string[] {
  const run = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', child(keepTickModule)], {
    env: { ...process.env, KEEP: keep ? '1' : '0' },
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    timeout: 30_000,
  });
  expect(run.status, run.stderr).toBe(0);
  return [...run.stdout.matchAll(/DefineKeyedOwnPropertyInLiteral (\w+)/g)].map((m) => m[1] as string);
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

  it('keeps its entry when bundled as the image bundles it (nothing reads the store in the bundle)', async () => {
    const dir = makeTempDir('keep-tick-bundle');
    const entry = join(dir, 'entry.ts');
    // As main.ts uses it: keepTickShape called, keptTickEntry never.
    writeFileSync(entry, `export { keepTickShape } from ${JSON.stringify(fileURLToPath(src('keep-tick-shape.ts')))};\n`);
    await build({ ...config, input: { 'keep-tick': entry }, output: { ...config.output, dir }, write: true });
    const kept = nextTickDefineStates(true, pathToFileURL(join(dir, 'keep-tick.js')).href);
    expect(kept.length).toBeGreaterThanOrEqual(3);
    expect(kept.every((state) => state === 'MONOMORPHIC')).toBe(true);
  });
});
