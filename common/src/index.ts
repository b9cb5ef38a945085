// The public entry of @kvflow/common, in the order an event meets it: settings, the event contract, publishing,
// the stream, the store (Redis), and the plumbing every service shares. Names are listed one by one; what is not
// here is internal to the package (tests reach a few internals through `@kvflow/common/internal`).

export { type PoisonMessage, partitionBatch, type ValidMessage } from './event/batch.js';
export {
  CONTENT_TYPE_MAX_LENGTH,
  isJsonType,
  type ValueMediaType,
  valueMediaTypeOf,
} from './event/content-type.js';
// The event contract: one module validates on both sides.
export {
  DEFAULT_VALUE_MAX_BYTES,
  decodeEvent,
  type EventInput,
  type EventSource,
  encodeEvent,
  KEY_MAX_BYTES,
  KEY_PATTERN,
  type KvEvent,
  keyProblem,
  newEvent,
  valueProblem,
} from './event/event.js';
// Publishing to the stream (the producer's hot path).
export {
  Publisher,
  type PublisherMetrics,
  PublishUnavailableError,
  StreamFullError,
} from './publish/publisher.js';
export { backoffMs } from './service/backoff.js';
export { FastHistogram } from './service/fast-histogram.js';
// What every service process shares: logs, metrics, readiness, the ops endpoints, retries, Node flags.
export { createLogger, type Logger } from './service/logger.js';
export { Counter, createRegistry, Gauge, Histogram, LATENCY_BUCKETS, Registry } from './service/metrics.js';
export { NODE_FLAGS, nodeFlagsFor, type ServiceRole } from './service/node-flags.js';
export { OPS_PATHS, opsReply, startOpsServer } from './service/ops-server.js';
export { Readiness } from './service/readiness.js';
export { packageVersion } from './service/version.js';
// Settings: environment variables, validated at start-up through one path.
export {
  ConfigError,
  defineSettings,
  type EnvValues,
  env,
  type Field,
  loadSettings,
  parseEnv,
  type SettingsSpec,
} from './settings/env.js';
export {
  type ConnectionSettings,
  connectionEnv,
  connectionSettings,
  LOG_LEVELS,
  pipelineSettings,
  type StreamSettings,
  streamEnv,
  streamSettings,
  type WorkerSettings,
  workerEnv,
  workerSettings,
} from './settings/pipeline.js';
export {
  describeProfile,
  PROFILE_KINDS,
  type ProfileSettings,
  profileFrom,
  RATE_FIELD_NAMES,
  RATE_FIELDS,
  type RateField,
  type RateProfile,
  rateFieldProblem,
  targetRate,
} from './settings/rate-profile.js';
export {
  SAMPLERS,
  type SamplerName,
  type TracingSettings,
  tracingEnv,
  tracingSettings,
} from './settings/tracing.js';
export { type ApplyOutcome, applyFenced, type FencedWrite, toFencedWrite } from './store/apply.js';
export { clusterMasters, slotTag } from './store/cluster.js';
export { readAtLeast, readEntry, readValue, type StoredEntry } from './store/read.js';
export { rebuildFromStream } from './store/rebuild.js';
// The store: the fenced apply, the reads, the scans, and the rebuild from the stream.
export { connectRedis, isCluster, probeRedis, type Redis } from './store/redis.js';
export { isScanCursor, listKeys, readAll, SCAN_CURSOR_PATTERN } from './store/scan.js';
export { type DeadLetter, listDeadLetters, publishPoison, replayDeadLetter } from './stream/dead-letters.js';
export { type ConsumerLag, lagOf, readConsumerLag } from './stream/lag.js';
// The stream: connection, provisioning, backlog, replay and dead letters.
export { connectNats, type NatsConnection } from './stream/nats.js';
export { provision } from './stream/provision.js';
export { replayBounds, replayStream } from './stream/replay.js';
export * as traceAttributes from './trace/attributes.js';
export {
  contextFromHeaders,
  type HeaderReader,
  type TraceHeaders,
  traceHeadersIn,
  traceHeadersOf,
  traceLogFields,
} from './trace/message-context.js';
export { type SpanSource, startTracing, type Tracing } from './trace/tracing.js';
