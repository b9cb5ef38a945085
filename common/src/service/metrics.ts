import { collectDefaultMetrics, type OpenMetricsContentType, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * A registry per process with the standard process and Node.js runtime metrics. `openMetrics` (with tracing on):
 * the OpenMetrics exposition, the one that carries exemplars.
 */
export function createRegistry(opts: { openMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  // The type parameter only narrows what setContentType takes; the registry renders by its content type.
  if (opts.openMetrics)
    (registry as unknown as Registry<OpenMetricsContentType>).setContentType(
      Registry.OPENMETRICS_CONTENT_TYPE,
    );
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Buckets (seconds) for sub-millisecond to multi-second latencies. */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
