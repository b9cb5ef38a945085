// KEDA + HPA as pure functions of time, trigger metrics and replicas; the settings they read (the chart's
// `autoscaling` values); Prometheus's rate() over a counter's scrapes; KEDA's nats-jetstream scaler as a pure
// state machine over monitoring answers; and the one piece of I/O: reading lag from the NATS monitoring endpoints
// the way KEDA does.
export * from './autoscaling-settings.js';
export * from './keda-hpa-model.js';
export * from './keda-jetstream-scaler.js';
export * from './lag-reader.js';
export * from './nats-monitoring.js';
export * from './nats-node-locator.js';
export * from './prometheus-rate.js';
