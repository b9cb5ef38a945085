export { sortBatch, toFencedWrite, type ValidMessage } from './apply-batch.js';
export { BatchQueue } from './batch-queue.js';
export { consumerEnv, loadConsumerConfig } from './config.js';
export { DemoThrottle } from './demo-throttle.js';
export { createConsumerMetrics } from './metrics.js';
export { nakDelayMs } from './nak-backoff.js';
export { PullPump } from './pull-pump.js';
export { type RebuildProgress, rebuildFromStream } from './rebuild.js';
export { Worker, type WorkerDeps } from './worker.js';
