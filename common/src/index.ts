// The shared runtime of kvflow, in the order an event meets it: settings, the event contract, publishing to
// the stream, the stream itself (provisioning, lag, replay, dead letters), the fenced apply to Redis, and the
// process plumbing every service shares (logs, metrics, readiness, ops endpoints).

export * from './backoff.js';
export * from './config.js';
export * from './dead-letters.js';
export * from './event.js';
export * from './kv-store.js';
export * from './lag.js';
export * from './logger.js';
export * from './metrics.js';
export * from './nats.js';
export * from './ops-server.js';
export * from './provision.js';
export * from './ack-window.js';
export * from './publisher.js';
export * from './rate-profile.js';
export * from './readiness.js';
export * from './rebuild.js';
export * from './redis.js';
export * from './settings.js';
export * from './stream-replay.js';
