import {
  type ConnectionSettings,
  connectionEnv,
  connectionSettings,
  defineSettings,
  env,
  type StreamSettings,
  streamEnv,
  streamSettings,
  type TracingSettings,
  tracingEnv,
  tracingSettings,
  type WorkerSettings,
  workerEnv,
  workerSettings,
} from '@kvflow/common';

export const consumerEnv = {
  ...connectionEnv,
  ...streamEnv,
  ...workerEnv,
  ...tracingEnv,
  METRICS_HOST: env.string('0.0.0.0'),
  METRICS_PORT: env.int(9091, 0, 65535),
  SHUTDOWN_GRACE_MS: env.int(25_000, 100, 3_600_000),
  REDIS_COMMAND_TIMEOUT_MS: env.int(5_000, 100, 600_000),
  PROVISION: env.bool(true),
};

export interface ConsumerSettings {
  connection: ConnectionSettings;
  stream: StreamSettings;
  worker: WorkerSettings;
  metricsHost: string;
  metricsPort: number;
  shutdownGraceMs: number;
  redisCommandTimeoutMs: number;
  provision: boolean;
  tracing: TracingSettings;
}

export const consumerSettings = defineSettings(
  consumerEnv,
  (e): ConsumerSettings => ({
    connection: connectionSettings(e),
    stream: streamSettings(e),
    worker: workerSettings(e),
    metricsHost: e.METRICS_HOST,
    metricsPort: e.METRICS_PORT,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    provision: e.PROVISION,
    tracing: tracingSettings(e, 'kvflow-consumer'),
  }),
);
