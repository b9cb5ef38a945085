import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Integration tests start their own nats-server and redis-server per file; two files at a time fit a
    // 2-core machine without starving the servers.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    include: ['test/**/*.test.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
