// Test fixtures (like nats.js's test-helper package): the suite's servers, services started for a test, stream
// helpers, a model of the store, the chaos oracle, PromQL over the dashboards and a real Kubernetes API server.
// Processes and waits come from @kvflow/stack; `useServers()`, which needs vitest, is at @kvflow/testkit/vitest.

export {
  type LoadPlan,
  type OracleOptions,
  type RecordedWrite,
  type Verification,
  type WriteCounts,
  type WriteOp,
  WriteOracle,
} from './chaos-oracle.js';
export { type ChaosFigures, ChaosReport, figuresLine, oracleFigures } from './chaos-report.js';
export {
  findKubeBinary,
  K8S_BIN,
  K8S_BINARIES_HINT,
  type KubeApiServer,
  requireKubeBinaries,
  startKubeApiServer,
} from './kube-apiserver.js';
export { mapLimit, modelState, randomEvent } from './model.js';
export { type DashboardQuery, dashboardQueries, forPrometheus, metricNames, promQuery } from './promql.js';
export { scrapeMetric, serviceEnv, spawnService, startWorkerProcess } from './services.js';
export {
  caughtUp,
  connectionFor,
  consumerLag,
  type RecordingPublisher,
  recordingPublisher,
  settingsFor,
  streamNames,
  waitCaughtUp,
} from './streams.js';
