import { defineConfig } from 'vitest/config';

// Each database test file starts its own throwaway MariaDB (test/support/server.ts), so files can
// run in parallel without sharing accounts or the ownership registry.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
