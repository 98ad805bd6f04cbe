// Rewrites the configuration reference in README.md from src/config/schema.ts.
//   npx node scripts/config-reference.ts          rewrite README.md
//   npx node scripts/config-reference.ts --check  exit 1 if README.md is out of date (for CI)

import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { generateConfigReference, replaceReference } from '../src/config/reference.ts';

const readmePath = fileURLToPath(new URL('../README.md', import.meta.url));
const check = process.argv.includes('--check');

const readme = await readFile(readmePath, 'utf8');
const updated = replaceReference(readme, generateConfigReference());
if (updated === readme) {
  console.log('README.md configuration reference is up to date');
} else if (check) {
  console.error('README.md configuration reference is out of date; run: npx node scripts/config-reference.ts');
  process.exitCode = 1;
} else {
  await writeFile(readmePath, updated);
  console.log('README.md configuration reference rewritten');
}
