import { decodeEvent, type NatsConnection, type Redis, readAll, type StreamSettings } from '@kvflow/common';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';

export interface Verification {
  /** Events stored in the stream. */
  published: number;
  /** Valid events among them (the rest are poison, expected as dead letters). */
  valid: number;
  /** Keys whose Redis value differs from applying the stream in order (missing, extra or different). */
  mismatchedKeys: number;
  modelKeys: number;
}

/** Replays the whole stream into an in-memory model and compares it with Redis, key by key. */
export async function verifyAgainstStream(
  nc: NatsConnection,
  redis: Redis,
  s: StreamSettings,
): Promise<Verification> {
  const { state } = await (await jetstreamManager(nc)).streams.info(s.stream);
  const model = new Map<string, string>();
  let valid = 0;
  if (state.messages > 0) {
    const consumer = await jetstream(nc).consumers.get(s.stream, {
      filter_subjects: [s.subject],
      deliver_policy: DeliverPolicy.All,
    });
    const messages = await consumer.consume({ max_messages: 1000 });
    for await (const m of messages) {
      const d = decodeEvent(m.data, s.valueMaxBytes);
      if (d.ok) {
        valid++;
        if (d.event.op === 'set') model.set(d.event.key, d.event.value);
        else model.delete(d.event.key);
      }
      if (m.seq >= state.last_seq || m.info.pending === 0) break;
    }
    await messages.close();
  }
  const actual = await readAll(redis);
  let mismatched = 0;
  for (const [k, v] of model) if (actual.get(k) !== v) mismatched++;
  for (const k of actual.keys()) if (!model.has(k)) mismatched++;
  return { published: state.messages, valid, mismatchedKeys: mismatched, modelKeys: model.size };
}
