import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // A temporary folder per run, checked for leftovers at the end; per file, the folders the
    // helpers made are removed.
    globalSetup: ['test/setup/run-temp-dir.ts'],
    setupFiles: ['test/setup/remove-temp-dirs.ts'],
    // Integration and e2e suites start real servers on fixed-free ports and namespaces;
    // files run in parallel processes, tests inside a file run in order.
    pool: 'forks',
    fileParallelism: true,
  },
});
