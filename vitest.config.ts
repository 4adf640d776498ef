import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // Hooks that run the CLI a few times (merge, check) get the tests' budget, not vitest's 10 s default, which a
    // loaded 2-core machine exceeds.
    hookTimeout: 60_000,
  },
});
