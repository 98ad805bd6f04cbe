// The code `sluice sandbox` runs comes from sluice's package folder: root runs the init script
// from it, and sluice, holding the real secrets, imports src/ and node_modules/ from it. A CMD
// that could change one file there would have its code run with those privileges at the next
// start. Tens of thousands of entries: judged by owner and mode bits (ACLs on entries inside the
// package are not looked at; the paths to it and the files run first are asked of the kernel,
// in trust.ts).
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { Who } from './access-as.ts';

/** Entries under `roots` that `who` owns or may write by their mode bits, at most `limit` of them. */
export function changeableEntries(who: Who, roots: readonly string[], limit = 10): string[] {
  const found: string[] = [];
  const visit = (path: string): void => {
    if (found.length >= limit) return;
    let stat: Stats;
    try {
      stat = lstatSync(path);
    } catch {
      return; // vanished meanwhile, or a root that does not exist here
    }
    if (changeable(who, stat)) found.push(path);
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  for (const root of roots) visit(root);
  return found;
}

function changeable(who: Who, stat: Stats): boolean {
  if (stat.uid === who.uid) return true;
  if (stat.isSymbolicLink()) return false; // a link's own mode means nothing; its folder is checked
  return (stat.mode & 0o002) !== 0 || ((stat.mode & 0o020) !== 0 && stat.gid === who.gid);
}
