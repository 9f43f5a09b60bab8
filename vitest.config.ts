import { defineConfig } from 'vitest/config';

// Database tests share one throwaway MariaDB started by the global setup; files run one at a time
// against it so that account names never race between files.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
