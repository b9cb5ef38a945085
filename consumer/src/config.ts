import {
  type ConnectionSettings,
  connectionEnv,
  connectionSettings,
  env,
  parseEnv,
  type StreamSettings,
  streamEnv,
  streamSettings,
} from '@kvflow/common';
import type { WorkerSettings } from './runtime.js';

export const consumerEnv = {
  ...connectionEnv,
  ...streamEnv,
  METRICS_HOST: env.string('0.0.0.0'),
  METRICS_PORT: env.int(9091, 0, 65535),
  BATCH_SIZE: env.int(256, 1, 10_000),
  APPLY_CONCURRENCY: env.int(2, 1, 16),
  PULL_EXPIRES_MS: env.int(2_000, 1_000, 60_000),
  SHUTDOWN_GRACE_MS: env.int(25_000, 100, 3_600_000),
  NAK_BASE_DELAY_MS: env.int(1_000, 0, 600_000),
  NAK_MAX_DELAY_MS: env.int(30_000, 0, 3_600_000),
  REDIS_COMMAND_TIMEOUT_MS: env.int(5_000, 100, 600_000),
  PROVISION: env.bool(true),
  WORK_MS: env.number(0, 0, 60_000),
  MAX_EVENTS_PER_SEC: env.number(0, 0, 1_000_000),
};

export interface ConsumerConfig {
  connection: ConnectionSettings;
  stream: StreamSettings;
  worker: WorkerSettings;
  metricsHost: string;
  metricsPort: number;
  shutdownGraceMs: number;
  redisCommandTimeoutMs: number;
  provision: boolean;
}

export function loadConsumerConfig(source: NodeJS.ProcessEnv = process.env): ConsumerConfig {
  const e = parseEnv(consumerEnv, source);
  return {
    connection: connectionSettings(e),
    stream: streamSettings(e),
    worker: {
      batchSize: e.BATCH_SIZE,
      applyConcurrency: e.APPLY_CONCURRENCY,
      pullExpiresMs: e.PULL_EXPIRES_MS,
      nakBaseDelayMs: e.NAK_BASE_DELAY_MS,
      nakMaxDelayMs: e.NAK_MAX_DELAY_MS,
      workMs: e.WORK_MS,
      maxEventsPerSec: e.MAX_EVENTS_PER_SEC,
    },
    metricsHost: e.METRICS_HOST,
    metricsPort: e.METRICS_PORT,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    provision: e.PROVISION,
  };
}
