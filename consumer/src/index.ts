export { sortBatch, toFencedWrite } from './apply-batch.js';
export { BatchQueue } from './batch-queue.js';
export { loadConsumerConfig } from './config.js';
export { nakDelayMs } from './nak-backoff.js';
export { type RebuildProgress, rebuildFromStream } from './rebuild.js';
