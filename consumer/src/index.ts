// The public entry of the consumer: one wired worker. Everything else in this package is its internals.
export { type ConsumerConfig, consumerEnv, consumerSettings, loadConsumerConfig } from './config.js';
export {
  createWorkerRuntime,
  type WorkerRuntime,
  type WorkerRuntimeDeps,
} from './runtime.js';
export type { WorkerTotals } from './worker.js';
