// Every directory entry the kernel goes through to open a path: "/", each folder on the way,
// each symbolic link and the folders its target goes through, and the entry at the end.
// Whoever can change any of them can make the path open something else; `sluice sandbox`
// checks each against CMD (trust.ts).
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';

export interface PathStep {
  path: string;
  stat: Stats;
  /** folder: a directory the walk goes through; link: a symbolic link followed; end: what the path names. */
  kind: 'folder' | 'link' | 'end';
}

export interface PathWalk {
  steps: PathStep[];
  /** False when a component is missing: `steps` then ends at the deepest folder that exists. */
  exists: boolean;
}

/** As the kernel's own limit on links followed in one lookup (ELOOP). */
const MAX_LINKS = 40;

export function walkPath(target: string): PathWalk {
  const steps: PathStep[] = [{ path: '/', stat: lstatSync('/'), kind: 'folder' }];
  const todo = resolve(target).split('/').filter(Boolean);
  let dir = '/';
  let links = 0;
  while (todo.length > 0) {
    const name = todo.shift() as string;
    if (name === '.') continue;
    if (name === '..') {
      dir = dirname(dir); // after a link, ".." is taken from the real folder, as the kernel does
      continue;
    }
    const path = join(dir, name);
    let stat: Stats;
    try {
      stat = lstatSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { steps, exists: false };
      throw err;
    }
    if (stat.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw new Error(`${target}: too many levels of symbolic links`);
      steps.push({ path, stat, kind: 'link' });
      const to = readlinkSync(path);
      if (isAbsolute(to)) dir = '/';
      todo.unshift(...to.split('/').filter(Boolean));
      continue;
    }
    steps.push({ path, stat, kind: todo.length === 0 ? 'end' : 'folder' });
    dir = path;
  }
  return { steps, exists: true };
}
