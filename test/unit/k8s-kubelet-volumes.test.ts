// sluice in a pod reads its config from a ConfigMap volume and its CA from a Secret volume
// (DESIGN.md §7): both are kubelet AtomicWriter folders, read-only to sluice. sluice writes
// nothing there, accepts the Secret's world-readable key (only sluice's container mounts it),
// and sees the `..data` swap of a ConfigMap update as a change of its config file.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, renameSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { watchConfigFile } from '../../src/config/watch-file.ts';
import { loadCa, loadOrCreateCa, writeTrustBundleBesideCa } from '../../src/tls/ca.ts';
import { createAtomicVolume, updateAtomicVolume } from '../fixtures/k8s/atomic-writer.ts';

const root = mkdtempSync(join(tmpdir(), 'sluice-kubelet-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Resolves with the number of changes seen within `ms` after `act`. */
async function changesAfter(file: string, act: () => void, ms = 1_500): Promise<number> {
  let seen = 0;
  const watch = watchConfigFile(file, () => seen++, 50);
  try {
    await new Promise((r) => setTimeout(r, 100)); // let inotify settle
    act();
    const until = Date.now() + ms;
    while (Date.now() < until && seen === 0) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 150)); // debounced repeats would show now
    return seen;
  } finally {
    watch.close();
  }
}

describe('the config watcher', () => {
  it('sees a ConfigMap update (kubelet renames ..data_tmp over ..data)', async () => {
    const dir = join(root, 'config-map');
    createAtomicVolume(dir, { 'sluice.toml': 'v1' });
    const file = join(dir, 'sluice.toml');
    expect(await changesAfter(file, () => updateAtomicVolume(dir, { 'sluice.toml': 'v2' }))).toBe(1);
    expect(readFileSync(file, 'utf8')).toBe('v2');
  });

  it('still sees an editor replacing the file, and ignores other files in the folder', async () => {
    const dir = join(root, 'plain');
    mkdirSync(dir);
    const file = join(dir, 'sluice.toml');
    writeFileSync(file, 'v1');
    expect(await changesAfter(file, () => {
      writeFileSync(join(dir, '.sluice.toml.swp'), 'v2');
      renameSync(join(dir, '.sluice.toml.swp'), file);
    })).toBe(1);
    expect(await changesAfter(file, () => writeFileSync(join(dir, 'notes.txt'), 'x'), 500)).toBe(0);
  });
});

describe('the CA from a Secret volume', () => {
  it('is loaded with a world-readable ca.key without warnings, and nothing is written beside it', async () => {
    const made = join(root, 'made');
    await loadOrCreateCa(made);
    const dir = join(root, 'secret');
    createAtomicVolume(dir, { 'ca.crt': readFileSync(join(made, 'ca.crt'), 'utf8'), 'ca.key': readFileSync(join(made, 'ca.key'), 'utf8') }, 0o444);
    const before = readdirSync(dir).sort();
    const { ca, warnings, created } = await loadOrCreateCa(dir);
    expect(created).toBe(false);
    expect(warnings).toEqual([]);
    const bundle = await writeTrustBundleBesideCa(ca, dir);
    expect(bundle).toMatchObject({ skipped: expect.stringContaining('sluice-trust ConfigMap') });
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it('still warns about a group- or world-readable key in an ordinary folder', async () => {
    const dir = join(root, 'ordinary');
    await loadOrCreateCa(dir);
    const { chmodSync } = await import('node:fs');
    chmodSync(join(dir, 'ca.key'), 0o644);
    expect((await loadCa(dir)).warnings.join()).toMatch(/readable by group or others/);
  });

  it('writes ca-bundle.crt beside a CA in a writable folder, as before', async () => {
    const dir = join(root, 'writable');
    const { ca } = await loadOrCreateCa(dir);
    const bundle = await writeTrustBundleBesideCa(ca, dir);
    expect(bundle).toEqual({ path: join(dir, 'ca-bundle.crt') });
    expect(readFileSync(join(dir, 'ca-bundle.crt'), 'utf8')).toContain(ca.certPem.trim());
  });

  it('on a read-only mount: no bundle written, and a missing CA is named, not attempted', async (ctx) => {
    // A real read-only bind mount, in a mount namespace of its own (root only).
    if (process.getuid?.() !== 0 || spawnSync('unshare', ['--mount', 'true']).status !== 0) {
      ctx.skip();
      return;
    }
    const dir = join(root, 'read-only');
    await loadOrCreateCa(join(dir, 'ca'));
    mkdirSync(join(dir, 'empty'));
    const script = join(import.meta.dirname, '../fixtures/k8s/ca-in-readonly.ts');
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind -o ro "$1" "$1" && exec "$2" "$3" "$1"', 'sh', dir, process.execPath, script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { bundle: { skipped?: string }; empty: { code: string; message: string } };
    expect(out.bundle.skipped).toMatch(/read-only \(EROFS\)/);
    expect(out.empty.code).toBe('ca_missing');
    expect(out.empty.message).toMatch(/not writable \(EROFS\).*Secret sluice-ca/);
    expect(readdirSync(join(dir, 'ca')).sort()).toEqual(['ca.crt', 'ca.key']);
  });
});
