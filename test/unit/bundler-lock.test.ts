// docker/bundler-lock.mjs: the image's build stage installs rolldown from a lock cut out of the
// repository's, so that it gets the version package.json pins, with the integrity hashes the
// repository's lock recorded, and every package that version needs.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../helpers/temp-dir.ts';

const root = join(import.meta.dirname, '../..');
const script = join(root, 'docker/bundler-lock.mjs');
type Lock = { packages: Record<string, { version?: string; integrity?: string; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> }> };

describe('docker/bundler-lock.mjs', () => {
  it("writes rolldown's pinned version and its whole dependency closure, hashes as in the repository's lock", () => {
    const out = makeTempDir('bundler-lock');
    execFileSync(process.execPath, [script, out], { cwd: root });
    const repo = (JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as Lock).packages;
    const cut = (JSON.parse(readFileSync(join(out, 'package-lock.json'), 'utf8')) as Lock).packages;
    const pinned = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies.rolldown;
    expect(cut['node_modules/rolldown']?.version).toBe(pinned);
    for (const [key, entry] of Object.entries(cut)) {
      if (key === '') continue;
      expect(entry.integrity, key).toBe(repo[key]?.integrity);
      for (const dep of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) expect(cut[`node_modules/${dep}`], `${key} needs ${dep}`).toBeDefined();
    }
    expect(Object.keys(cut).some((key) => key.startsWith('node_modules/@rolldown/binding-linux-x64'))).toBe(true);
  });

  it('refuses a package.json whose pinned rolldown the lock does not hold', () => {
    const dir = makeTempDir('bundler-lock-mismatch');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    pkg.devDependencies.rolldown = '0.0.1';
    writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg));
    copyFileSync(join(root, 'package-lock.json'), join(dir, 'package-lock.json'));
    const run = spawnSync(process.execPath, [script, join(dir, 'out')], { cwd: dir, encoding: 'utf8' });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/package\.json pins 0\.0\.1/);
  });
});
