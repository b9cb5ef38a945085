export { type ApiDeps, buildApi } from './api/build-api.js';
export { ApiError, ERROR_CATALOG, type ErrorCode } from './api/errors.js';
export {
  LIVE_GENERATOR_KEYS,
  type LiveGeneratorSettings,
  liveGeneratorSettings,
  loadProducerConfig,
  type ProducerConfig,
  producerEnv,
  producerSettings,
  type RateConfigMapSettings,
} from './config.js';
export { createProducerMetrics, createRateConfigMetrics, publisherMetrics } from './metrics.js';
export * from './rate-configmap-events.js';
export { RateGenerator } from './rate-generator.js';
