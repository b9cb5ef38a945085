import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { StreamSettings } from '../settings/pipeline.js';

/** The two consumer counters the scaler adds up, as both the JetStream API and `/jsz` report them. */
export interface ConsumerCounters {
  num_pending: number;
  num_ack_pending: number;
}

/** Consumer lag as KEDA's nats-jetstream scaler defines it: not yet delivered plus delivered but not acked. */
export function lagOf(c: ConsumerCounters): number {
  return c.num_pending + c.num_ack_pending;
}

export interface ConsumerLag {
  lag: number;
  pending: number;
  ackPending: number;
  redelivered: number;
  /** Stream sequence of the last message delivered to the consumer. */
  delivered: number;
  /** Pull requests waiting for messages: a worker that pulls has one open. */
  waiting: number;
}

/** Reads the durable consumer's lag through the JetStream API. */
export async function readConsumerLag(nc: NatsConnection, s: StreamSettings): Promise<ConsumerLag> {
  const info = await (await jetstreamManager(nc)).consumers.info(s.stream, s.consumer);
  return {
    lag: lagOf(info),
    pending: info.num_pending,
    ackPending: info.num_ack_pending,
    redelivered: info.num_redelivered,
    delivered: info.delivered.stream_seq,
    waiting: info.num_waiting,
  };
}
