import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // Hooks that run the CLI a few times (merge, check) get the tests' budget, not vitest's 10 s default, which a
    // loaded 2-core machine exceeds.
    hookTimeout: 60_000,
    // A process per test file: test/helpers/cli.ts runs command lines in the test's process and changes its working
    // directory for them, which worker threads cannot.
    pool: 'forks',
    // Two files at once even on 2 cores (vitest's default there is one, cores - 1): most files now run the CLI in
    // their own process, and one file alone leaves the second core idle while it imports and compiles.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
