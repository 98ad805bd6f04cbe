// The image's build stage installs rolldown alone (not every devDependency): this writes a
// package.json and a package-lock.json for it into OUT_DIR, taken from the repository's own
// lock (the version package.json pins, and every package it needs, with their integrity
// hashes), so that `npm ci` there installs exactly what `npm ci` in a clone does.
//
//   node docker/bundler-lock.mjs OUT_DIR        (run where package.json and package-lock.json are)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const out = process.argv[2];
if (out === undefined) throw new Error('usage: node docker/bundler-lock.mjs OUT_DIR');
const version = JSON.parse(readFileSync('package.json', 'utf8')).devDependencies?.rolldown;
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')).packages;
if (lock['node_modules/rolldown']?.version !== version) throw new Error(`package-lock.json has rolldown ${lock['node_modules/rolldown']?.version}, package.json pins ${version}`);

// rolldown and what it depends on, optional (platform) packages included, as the lock holds them.
const packages = { '': { name: 'sluice-bundler', dependencies: { rolldown: version } } };
const wanted = ['rolldown'];
while (wanted.length > 0) {
  const name = wanted.pop();
  const key = `node_modules/${name}`;
  if (packages[key] !== undefined) continue;
  const entry = lock[key];
  if (entry === undefined) throw new Error(`package-lock.json has no ${key}`);
  const { dev: _dev, devOptional: _devOptional, peer: _peer, ...kept } = entry;
  packages[key] = kept;
  wanted.push(...Object.keys({ ...entry.dependencies, ...entry.optionalDependencies }));
}
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'package.json'), `${JSON.stringify({ name: 'sluice-bundler', private: true, dependencies: { rolldown: version } }, null, 2)}\n`);
writeFileSync(join(out, 'package-lock.json'), `${JSON.stringify({ name: 'sluice-bundler', lockfileVersion: 3, requires: true, packages }, null, 2)}\n`);
