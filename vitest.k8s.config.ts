import { defineConfig } from 'vitest/config';

// `npm run test:k8s`: the acceptance run on the local single-node Kubernetes (local-k8s/). One file, in order; its
// set-up builds and starts the node when it is not up, which takes minutes the first time.
export default defineConfig({
  test: {
    include: ['test/k8s/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 20 * 60_000,
    hookTimeout: 90 * 60_000,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
