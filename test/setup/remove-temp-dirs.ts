// Runs in every test file (vitest setupFiles): the folders test/helpers/temp-dir.ts made are
// removed once the whole file is done, its afterAll hooks included (servers have stopped by
// then). aroundAll rather than afterAll: it runs even when one of the file's own afterAll
// hooks throws or times out.
import { aroundAll } from 'vitest';
import { removeTempDirs } from '../helpers/temp-dir.ts';

aroundAll(async (runSuite) => {
  try {
    await runSuite();
  } finally {
    removeTempDirs();
  }
});
