import { DEFAULT_VALUE_MAX_BYTES } from '../event/event.js';
import { ConfigError, defineSettings, type EnvValues, env } from './env.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Variables every process reads: where NATS and Redis are and how to authenticate. */
export const connectionEnv = {
  NATS_URL: env.urls('nats://127.0.0.1:4222', ['nats:', 'tls:']),
  NATS_USER: env.optionalString(),
  NATS_PASSWORD: env.optionalString(),
  NATS_TOKEN: env.optionalString(),
  REDIS_URL: env.urls('redis://127.0.0.1:6379', ['redis:', 'rediss:']),
  REDIS_PASSWORD: env.optionalString(),
  REDIS_CLUSTER: env.bool(false),
  LOG_LEVEL: env.oneOf('info', LOG_LEVELS),
};

const DAY_MS = 86_400_000;

/**
 * The stream, consumer and dead-letter settings. The provisioning step and the workers read the same variables,
 * so the consumer a worker binds to is the one that was provisioned.
 */
export const streamEnv = {
  STREAM_NAME: env.name('KVFLOW'),
  STREAM_SUBJECT: env.string('kvflow.events'),
  CONSUMER_NAME: env.name('workers'),
  DLQ_STREAM_NAME: env.name('KVFLOW_DLQ'),
  DLQ_SUBJECT: env.string('kvflow.dlq'),
  STREAM_MAX_AGE_MS: env.int(7 * DAY_MS, 60_000),
  STREAM_MAX_BYTES: env.int(-1, -1),
  STREAM_REPLICAS: env.int(1, 1, 5),
  DUPLICATE_WINDOW_MS: env.int(120_000, 1_000),
  ACK_WAIT_MS: env.int(30_000, 1_000),
  MAX_DELIVER: env.int(5, 1, 1000),
  MAX_ACK_PENDING: env.int(20_000, 1),
  VALUE_MAX_BYTES: env.int(DEFAULT_VALUE_MAX_BYTES, 1, 8 * 1024 * 1024),
  TOMBSTONE_TTL_MS: env.int(7 * DAY_MS, 60_000),
};

export interface ConnectionSettings {
  natsServers: string[];
  natsUser: string | undefined;
  natsPassword: string | undefined;
  natsToken: string | undefined;
  /** The Redis server, or with `redisCluster` the seed nodes the cluster's topology is discovered from. */
  redisUrls: string[];
  redisPassword: string | undefined;
  /** Redis Cluster (the ioredis Cluster client): keys spread over the masters' hash slots. */
  redisCluster: boolean;
  logLevel: string;
}

export interface StreamSettings {
  stream: string;
  subject: string;
  consumer: string;
  dlqStream: string;
  dlqSubject: string;
  maxAgeMs: number;
  maxBytes: number;
  replicas: number;
  duplicateWindowMs: number;
  ackWaitMs: number;
  maxDeliver: number;
  maxAckPending: number;
  valueMaxBytes: number;
  tombstoneTtlMs: number;
}

export function connectionSettings(e: EnvValues<typeof connectionEnv>): ConnectionSettings {
  const redisUrls = e.REDIS_URL.split(',').map((s) => s.trim());
  if (redisUrls.length > 1 && !e.REDIS_CLUSTER)
    throw new ConfigError([
      `REDIS_URL lists ${redisUrls.length} servers: a single Redis takes one URL; for a Redis Cluster's seed nodes set REDIS_CLUSTER=true`,
    ]);
  return {
    natsServers: e.NATS_URL.split(',').map((s) => s.trim()),
    natsUser: e.NATS_USER,
    natsPassword: e.NATS_PASSWORD,
    natsToken: e.NATS_TOKEN,
    redisUrls,
    redisPassword: e.REDIS_PASSWORD,
    redisCluster: e.REDIS_CLUSTER,
    logLevel: e.LOG_LEVEL,
  };
}

export function streamSettings(e: EnvValues<typeof streamEnv>): StreamSettings {
  return {
    stream: e.STREAM_NAME,
    subject: e.STREAM_SUBJECT,
    consumer: e.CONSUMER_NAME,
    dlqStream: e.DLQ_STREAM_NAME,
    dlqSubject: e.DLQ_SUBJECT,
    maxAgeMs: e.STREAM_MAX_AGE_MS,
    maxBytes: e.STREAM_MAX_BYTES,
    replicas: e.STREAM_REPLICAS,
    duplicateWindowMs: e.DUPLICATE_WINDOW_MS,
    ackWaitMs: e.ACK_WAIT_MS,
    maxDeliver: e.MAX_DELIVER,
    maxAckPending: e.MAX_ACK_PENDING,
    valueMaxBytes: e.VALUE_MAX_BYTES,
    tombstoneTtlMs: e.TOMBSTONE_TTL_MS,
  };
}

/** The subject JetStream publishes MAX_DELIVERIES advisories on for our consumer; the DLQ stream captures it. */
export function maxDeliveriesAdvisorySubject(s: StreamSettings): string {
  return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${s.stream}.${s.consumer}`;
}

/** How a worker pulls and applies (the consumer's settings; the benchmark and the demo use them as they are). */
export const workerEnv = {
  BATCH_SIZE: env.int(256, 1, 10_000),
  APPLY_CONCURRENCY: env.int(3, 1, 16),
  PULL_EXPIRES_MS: env.int(2_000, 1_000, 60_000),
  NAK_BASE_DELAY_MS: env.int(1_000, 0, 600_000),
  NAK_MAX_DELAY_MS: env.int(30_000, 0, 3_600_000),
  WORK_MS: env.number(0, 0, 60_000),
  MAX_EVENTS_PER_SEC: env.number(0, 0, 1_000_000),
  WATERMARK_INTERVAL_MS: env.int(1_000, 100, 60_000),
};

export interface WorkerSettings {
  batchSize: number;
  applyConcurrency: number;
  pullExpiresMs: number;
  nakBaseDelayMs: number;
  nakMaxDelayMs: number;
  /** Demo knob: simulated work per event, so a backlog builds at demo rates. 0 = off. */
  workMs: number;
  /** Demo knob: cap on events/s for this worker. 0 = off. */
  maxEventsPerSec: number;
  /** How often the Redis data-loss watermark follows the consumer's ack floor. */
  watermarkIntervalMs: number;
}

export function workerSettings(e: EnvValues<typeof workerEnv>): WorkerSettings {
  return {
    batchSize: e.BATCH_SIZE,
    applyConcurrency: e.APPLY_CONCURRENCY,
    pullExpiresMs: e.PULL_EXPIRES_MS,
    nakBaseDelayMs: e.NAK_BASE_DELAY_MS,
    nakMaxDelayMs: e.NAK_MAX_DELAY_MS,
    workMs: e.WORK_MS,
    maxEventsPerSec: e.MAX_EVENTS_PER_SEC,
    watermarkIntervalMs: e.WATERMARK_INTERVAL_MS,
  };
}

/** Where NATS and Redis are and which stream and consumer: what provisioning and most tools need. */
export const pipelineSettings = defineSettings({ ...connectionEnv, ...streamEnv }, (e) => ({
  connection: connectionSettings(e),
  stream: streamSettings(e),
}));
export type PipelineSettings = ReturnType<typeof pipelineSettings.parse>;
