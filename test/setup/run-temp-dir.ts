// vitest globalSetup: each run gets a temporary folder of its own (TMPDIR, inherited by every
// test worker and every program the tests start). At the end, anything left in it is a leak
// and fails the run; the folder is removed either way, so a run never litters /tmp. A folder
// of our own (rather than comparing /tmp before and after) keeps concurrent runs from
// blaming each other.
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Caches programs keep in TMPDIR on purpose (Node's module compile cache): not a leak. */
const CACHES = new Set(['node-compile-cache']);

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'sluice-test-run-'));
  // Like /tmp: programs the e2e suites run as other users write their own temporary files.
  chmodSync(root, 0o1777);
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = root;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    const left = readdirSync(root).filter((name) => !CACHES.has(name));
    rmSync(root, { recursive: true, force: true, maxRetries: 3 });
    if (left.length > 0) {
      // A teardown that throws is only printed; the exit code is what fails the run.
      console.error(`\nFAIL: tests left ${left.length} entries in their temporary folder (removed now; whatever made them must remove them): ${left.sort().join(', ')}\n`);
      process.exitCode = 1;
    }
  };
}
