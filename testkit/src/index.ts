// Internal helpers for tests, the benchmark and the demo (like nats.js's test-helper package). `useServers()`,
// which needs vitest, is at @kvflow/testkit/vitest.
export * from './chaos-oracle.js';
export * from './chaos-report.js';
export * from './kube-apiserver.js';
export * from './memory-cgroup.js';
export * from './model.js';
export * from './promql.js';
export * from './root.js';
export * from './server-processes.js';
export * from './servers.js';
export * from './service-process.js';
export * from './services.js';
export * from './streams.js';
