export { type ApiDeps, buildApi } from './api/build-api.js';
export { ApiError, ERROR_CATALOG, type ErrorCode } from './api/errors.js';
export { loadProducerConfig, type ProducerConfig, producerEnv, producerSettings } from './config.js';
export { createProducerMetrics, publisherMetrics } from './metrics.js';
export { RateGenerator } from './rate-generator.js';
