import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Integration tests start their own nats-server and redis-server per file; two files at a time fit a
    // 2-core machine without starving the servers.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    include: ['test/**/*.test.ts'],
    // The Kubernetes acceptance run has its own command (npm run test:k8s, vitest.k8s.config.ts).
    exclude: ['test/k8s/**', '**/node_modules/**'],
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
