// The shared runtime of kvflow: settings (config, settings, rate-profile), the event contract (event), publishing
// (publisher, ack-window), the stream (provision, lag, stream-replay, rebuild, dead-letters), the fenced apply to
// Redis (redis, redis-cluster, kv-store), and the process plumbing every service shares (backoff, logger, metrics,
// readiness, ops-server). The README's "How an event flows" table gives the order an event meets them.

export * from './ack-window.js';
export * from './backoff.js';
export * from './config.js';
export * from './dead-letters.js';
export * from './event.js';
export * from './fast-histogram.js';
export * from './kv-store.js';
export * from './lag.js';
export * from './logger.js';
export * from './metrics.js';
export * from './nats.js';
export * from './node-flags.js';
export * from './ops-server.js';
export * from './provision.js';
export * from './pub-ack.js';
export * from './publisher.js';
export * from './rate-profile.js';
export * from './readiness.js';
export * from './rebuild.js';
export * from './redis.js';
export * from './redis-cluster.js';
export * from './settings.js';
export * from './stream-replay.js';
