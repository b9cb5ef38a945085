import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { type Decoded, decodeEvent } from '../event/event.js';
import type { StreamSettings } from '../settings/pipeline.js';

export interface ReplayedMessage {
  seq: number;
  decoded: Decoded;
  /** The message's headers (its trace context, if it was traced). */
  headers: MsgHdrs | undefined;
}

export interface ReplayBounds {
  /** First sequence replayed (at least the stream's first stored one). */
  firstSeq: number;
  /** The stream's last sequence when the replay started: the replay stops there. */
  lastSeq: number;
  /** Messages stored when the replay started. */
  messages: number;
}

/** Where a replay from `fromSeq` (default: the oldest stored event) would start and stop. */
export async function replayBounds(
  nc: NatsConnection,
  s: StreamSettings,
  fromSeq?: number,
): Promise<ReplayBounds> {
  const { state } = await (await jetstreamManager(nc)).streams.info(s.stream);
  return {
    firstSeq: Math.max(fromSeq ?? state.first_seq, state.first_seq),
    lastSeq: state.last_seq,
    messages: state.messages,
  };
}

/**
 * Reads the event stream in order, from `bounds.firstSeq` to `bounds.lastSeq`, with an ordered consumer, decoding
 * each message (invalid ones are yielded too, with the reason). Events published after the replay started are
 * not included.
 */
export async function* replayStream(
  nc: NatsConnection,
  s: StreamSettings,
  bounds: ReplayBounds,
  batchSize = 1000,
): AsyncGenerator<ReplayedMessage> {
  if (bounds.messages === 0 || bounds.firstSeq > bounds.lastSeq) return;
  const consumer = await jetstream(nc).consumers.get(s.stream, {
    filter_subjects: [s.subject],
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: bounds.firstSeq,
  });
  const messages = await consumer.consume({ max_messages: batchSize });
  try {
    for await (const m of messages) {
      // Headers are decoded on access (nats.js): only a traced rebuild reads them.
      yield {
        seq: m.seq,
        decoded: decodeEvent(m.data, s.valueMaxBytes),
        get headers() {
          return m.headers;
        },
      };
      if (m.seq >= bounds.lastSeq || m.info.pending === 0) break;
    }
  } finally {
    await messages.close();
  }
}
