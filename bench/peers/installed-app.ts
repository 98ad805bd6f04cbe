// sluice laid out as its image installs it (docker/Dockerfile): bin/sluice.js, the bundle in
// dist/sluice/ (`npm run build`, rolldown.config.ts), package.json, iptables/ and the production
// modules, and no src/, so bin/sluice.js runs the bundle. The bench measures this layout, the
// one every pod runs; peer "sluice-src" measures the sources, as a clone's `npm start` runs them.
import { copyFile, mkdir, readdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../exec.ts';

/** Builds the bundle from the working tree into `dir` and returns the layout's root. */
export async function stageInstalledApp(repoRoot: string, dir: string): Promise<string> {
  const app = join(dir, 'app');
  await rm(app, { recursive: true, force: true });
  await mkdir(join(app, 'bin'), { recursive: true });
  await run([join(repoRoot, 'node_modules', '.bin', 'rolldown'), '-c', 'rolldown.config.ts', '-d', join(app, 'dist', 'sluice')], { cwd: repoRoot, timeoutMs: 60_000 });
  await copyFile(join(repoRoot, 'bin', 'sluice.js'), join(app, 'bin', 'sluice.js'));
  await copyFile(join(repoRoot, 'package.json'), join(app, 'package.json'));
  await symlink(join(repoRoot, 'iptables'), join(app, 'iptables'));
  // The repository's modules stand in for the image's production ones (a superset), each
  // linked, so that node_modules/.cache (Node's compile cache) is the layout's own.
  await mkdir(join(app, 'node_modules'));
  for (const entry of await readdir(join(repoRoot, 'node_modules'))) {
    if (entry !== '.cache') await symlink(join(repoRoot, 'node_modules', entry), join(app, 'node_modules', entry));
  }
  return app;
}

/**
 * Fills sluice's compile cache in `app` as its image does at build time: a start of an installed
 * sluice. Node keeps one cache per uid (…-<uid> folders) and uses it only where that uid may
 * write, so with `uid` it is filled as that uid, in a folder given to it. Returns bin/sluice.js.
 */
export async function fillSluiceCompileCache(app: string, uid?: number): Promise<string> {
  const bin = join(app, 'bin', 'sluice.js');
  const cache = join(app, 'node_modules', '.cache', 'sluice');
  await mkdir(cache, { recursive: true });
  if (uid !== undefined) await run(['chown', '-R', `${uid}:${uid}`, cache], { allowFail: true });
  const asUid = uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];
  await run([...asUid, process.execPath, bin, 'run', '--help'], { timeoutMs: 30_000 });
  return bin;
}

