import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'apps/*/src/**/*.test.ts',
      'apps/*/test/**/*.test.ts',
      'packages/*/src/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'loadtests/**/*.test.ts',
    ],
    // One database (cloned from a migrated template) and one Redis key prefix per test file.
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // expect.poll waits for something the test set in motion (a lock waiter, a worker's insert);
    // vitest's default of 1 s is shorter than a pause of a loaded machine. A poll that succeeds
    // returns at once, so only a failing one waits this long.
    expect: { poll: { timeout: 30_000 } },
    // Concurrency suites fire thousands of calls; keep their output to failures.
    silent: 'passed-only',
  },
});
