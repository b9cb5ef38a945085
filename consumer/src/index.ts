// The public entry of the consumer: one wired worker. Everything else in this package is its internals.

export {
  createWorkerRuntime,
  type WorkerRuntime,
  type WorkerRuntimeDeps,
} from './runtime.js';
export { type ConsumerSettings, consumerEnv, consumerSettings } from './settings.js';
export type { WorkerTotals } from './worker.js';
