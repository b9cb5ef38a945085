// KEDA + HPA as pure functions of time, lag and replicas; the settings they read (the chart's `autoscaling`
// values); and the one piece of I/O: reading lag from the NATS monitoring endpoint the way KEDA does.
export * from './autoscaling-settings.js';
export * from './keda-hpa-model.js';
export * from './lag-reader.js';
