import { Counter, Gauge, Histogram, LATENCY_BUCKETS, type Registry } from '@kvflow/common';

export type Outcome = 'applied' | 'stale' | 'dead_lettered';

/** `exemplars` (tracing on, an OpenMetrics registry): the end-to-end histogram keeps traced events' trace ids. */
export function createConsumerMetrics(registry: Registry, opts: { exemplars?: boolean } = {}) {
  const metrics = {
    events: new Counter({
      name: 'kvflow_events_applied_total',
      help: 'Events processed by workers, by outcome (applied, stale = already applied, dead_lettered)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'kvflow_batch_size',
      help: 'Events per batch applied to Redis in one round trip',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers: [registry],
    }),
    applyDuration: new Histogram({
      name: 'kvflow_apply_duration_seconds',
      help: 'Time to apply one batch to Redis (the pipelined fenced writes)',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    endToEndLag: new Histogram({
      name: 'kvflow_end_to_end_lag_seconds',
      help: 'Time from the producer accepting an event (event ts) to the worker applying it',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
      enableExemplars: opts.exemplars === true,
    }),
    redeliveries: new Counter({
      name: 'kvflow_redeliveries_total',
      help: 'Messages received that had been delivered before',
      registers: [registry],
    }),
    transientFailures: new Counter({
      name: 'kvflow_transient_failures_total',
      help: 'Batches that could not be applied (Redis down or slow) and were nak-ed for redelivery',
      registers: [registry],
    }),
    dataLossRepairs: new Counter({
      name: 'kvflow_redis_data_loss_repairs_total',
      help: 'Times this worker found Redis behind the stream (acknowledged writes lost) and replayed the gap',
      registers: [registry],
    }),
    repairedEvents: new Counter({
      name: 'kvflow_redis_repaired_events_total',
      help: 'Events re-applied to Redis by those repairs',
      registers: [registry],
    }),
    paused: new Gauge({
      name: 'kvflow_worker_paused',
      help: '1 while the worker has stopped pulling because Redis is unavailable',
      registers: [registry],
    }),
  };
  // Every outcome exists from the start (at 0), so rates and alerts read 0 instead of "no data".
  for (const outcome of ['applied', 'stale', 'dead_lettered'] as const) metrics.events.inc({ outcome }, 0);
  metrics.paused.set(0);
  return metrics;
}

export type ConsumerMetrics = ReturnType<typeof createConsumerMetrics>;
