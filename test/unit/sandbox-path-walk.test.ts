// walkPath lists every entry the kernel goes through to open a path, so that `sluice sandbox`
// can check each one against CMD: a folder or link it misses is a way to swap the config.
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walkPath } from '../../src/sandbox/path-walk.ts';

describe('walkPath', () => {
  let dir: string;

  beforeAll(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'sluice-walk-')));
    mkdirSync(join(dir, 'real/conf'), { recursive: true });
    writeFileSync(join(dir, 'real/conf/sluice.toml'), '');
    mkdirSync(join(dir, 'links'));
    mkdirSync(join(dir, 'other'));
    symlinkSync('../real/conf', join(dir, 'links/conf')); // relative, to a folder
    symlinkSync(join(dir, 'links/conf/sluice.toml'), join(dir, 'other/sluice.toml')); // absolute, through another link
    symlinkSync('loop-b', join(dir, 'loop-a'));
    symlinkSync('loop-a', join(dir, 'loop-b'));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const walked = (path: string) => walkPath(path).steps.map((s) => `${s.kind} ${s.path}`);
  const above = (path: string): string[] => {
    const parts = path.split('/').filter(Boolean);
    return ['folder /', ...parts.map((_, i) => `folder /${parts.slice(0, i + 1).join('/')}`)];
  };

  it('lists / and every folder down to the file, the file last', () => {
    expect(walked(join(dir, 'real/conf/sluice.toml'))).toEqual([
      ...above(dir), `folder ${dir}/real`, `folder ${dir}/real/conf`, `end ${dir}/real/conf/sluice.toml`,
    ]);
  });

  it('follows links, keeping the link and every folder the target goes through', () => {
    const steps = walked(join(dir, 'other/sluice.toml'));
    expect(steps).toContain(`folder ${dir}/other`);
    expect(steps).toContain(`link ${dir}/other/sluice.toml`);
    expect(steps).toContain(`folder ${dir}/links`); // holds the second link: it could be swapped there
    expect(steps).toContain(`link ${dir}/links/conf`);
    expect(steps).toContain(`folder ${dir}/real/conf`);
    expect(steps.at(-1)).toBe(`end ${dir}/real/conf/sluice.toml`);
  });

  it('says when the path does not exist, ending at the deepest folder that does', () => {
    const walk = walkPath(join(dir, 'real/logs/access.ndjson'));
    expect(walk.exists).toBe(false);
    expect(walk.steps.at(-1)?.path).toBe(`${dir}/real`);
  });

  it('stops at a loop of links instead of spinning', () => {
    expect(() => walkPath(join(dir, 'loop-a'))).toThrow(/too many levels of symbolic links/);
  });
});
