#!/usr/bin/env node
// Entry point. In a clone, sluice runs its TypeScript sources with Node 24's built-in type
// stripping, so there is no build step between a clone and `npm start`. The image has no src/:
// it runs the bundle `npm run build` made of the same sources (dist/sluice/, rolldown.config.ts),
// which starts faster and smaller. An older Node cannot run either; say so plainly before
// trying (hence the dynamic imports: a static one would be loaded, and fail, before this check
// runs).
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `sluice needs Node ≥ 24 (you have ${process.versions.node}): use \`npx sluice …\` or \`npm start\` in the checkout (they run the Node 24 that npm ci installed), or install Node 24\n`,
  );
  process.exit(1);
}

// Type-stripped, compiled modules are cached beside the sources (like them, out of the agent's
// reach): start-up ~0.3–0.5 s faster, 23 MiB smaller (README, Benchmarks).
(await import('node:module')).enableCompileCache?.(new URL('../node_modules/.cache/sluice', import.meta.url).pathname);
const { existsSync } = await import('node:fs');
const sources = new URL('../src/cli/main.ts', import.meta.url);
const { main } = await (existsSync(sources) ? import(sources.href) : import('../dist/sluice/main.js'));
const code = await main(process.argv.slice(2));
// A command that has finished exits now (once its output is written), even if a library
// left a timer behind.
process.stdout.write('', () => process.exit(code));
