import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration and e2e suites start real servers on fixed-free ports and namespaces;
    // files run in parallel processes, tests inside a file run in order.
    pool: 'forks',
    fileParallelism: true,
  },
});
