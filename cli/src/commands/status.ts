import { lagOf } from '@kvflow/common';
import { jetstreamManager } from '@nats-io/jetstream';
import type { CliContext } from '../context.js';

export async function status(ctx: CliContext): Promise<Record<string, number | string>> {
  const jsm = await jetstreamManager(await ctx.nats());
  const s = ctx.stream;
  const [stream, consumer, dlq] = await Promise.all([
    jsm.streams.info(s.stream),
    jsm.consumers.info(s.stream, s.consumer),
    jsm.streams.info(s.dlqStream),
  ]);
  return {
    stream: s.stream,
    events_stored: stream.state.messages,
    first_seq: stream.state.first_seq,
    last_seq: stream.state.last_seq,
    consumer: s.consumer,
    pending: consumer.num_pending,
    ack_pending: consumer.num_ack_pending,
    lag: lagOf(consumer),
    redelivered_unacked: consumer.num_redelivered,
    pull_requests_waiting: consumer.num_waiting,
    dead_letters: dlq.state.messages,
  };
}
