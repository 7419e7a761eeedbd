import { defineConfig } from 'vitest/config';

// The integration tests share machine-wide resources (network namespaces, a
// router per file, CPU on a 2-core machine): run one file at a time in one
// forked worker, with generous timeouts because they drive real processes.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    fileParallelism: false,
    sequence: { concurrent: false },
    testTimeout: 180_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    globalSetup: ['test/harness/global-setup.ts'],
    reporters: ['verbose'],
  },
});
