// Temporary folders for tests, removed when the test file ends (test/setup/remove-temp-dirs.ts
// runs removeTempDirs in a last afterAll) or earlier by their owner's stop(). The run's global
// setup checks that nothing is left behind in the run's temporary folder.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made = new Set<string>();

/** A fresh folder `$TMPDIR/sluice-<label>-XXXXXX`, removed at the latest when the file ends. */
export function makeTempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `sluice-${label}-`));
  made.add(dir);
  return dir;
}

/** Removes one folder made by makeTempDir (or any folder), recursively; missing is fine. */
export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  made.delete(dir);
}

/** Removes every folder makeTempDir made in this test file that is still there. */
export function removeTempDirs(): void {
  for (const dir of [...made]) removeTempDir(dir);
}
