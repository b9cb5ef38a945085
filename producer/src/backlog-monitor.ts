import { type Logger, type NatsConnection, readConsumerLag, type StreamSettings } from '@kvflow/common';
import type { ProducerMetrics } from './metrics.js';

/**
 * Exports the consumer's lag (num_pending + num_ack_pending, the number KEDA scales on) from the producer, which
 * keeps running while workers are scaled to zero.
 */
export function monitorBacklog(
  nc: NatsConnection,
  s: StreamSettings,
  intervalMs: number,
  metrics: ProducerMetrics,
  log: Logger,
): () => void {
  if (intervalMs === 0) return () => undefined;
  let warned = false;
  const poll = async () => {
    try {
      const { lag } = await readConsumerLag(nc, s);
      metrics.backlog.set({ stream: s.stream, consumer: s.consumer }, lag);
      warned = false;
    } catch (err) {
      if (!warned) log.warn({ err: (err as Error).message }, 'cannot read consumer lag');
      warned = true;
    }
  };
  void poll();
  const timer = setInterval(() => void poll(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
