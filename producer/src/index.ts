export { type ApiDeps, buildApi } from './api/build-api.js';
export { ApiError, ERROR_CATALOG, type ErrorCode } from './api/errors.js';
export { createProducerMetrics, createRateConfigMetrics, publisherMetrics } from './metrics.js';
export * from './rate-configmap-events.js';
export { RateGenerator } from './rate-generator.js';
export {
  LIVE_GENERATOR_KEYS,
  type LiveGeneratorSettings,
  liveGeneratorSettings,
  type ProducerSettings,
  producerEnv,
  producerSettings,
  type RateConfigMapSettings,
} from './settings.js';
