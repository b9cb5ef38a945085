export { buildApi } from './api.js';
export { loadProducerConfig, producerEnv } from './config.js';
export { createProducerMetrics } from './metrics.js';
export { Publisher, PublishUnavailableError } from './publisher.js';
export { registerRateControl } from './rate-control.js';
export { RateGenerator } from './rate-generator.js';
export { describeProfile, type RateProfile, targetRate } from './rate-profile.js';
