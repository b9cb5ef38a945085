import {
  type NatsConnection,
  type Redis,
  readAll,
  replayBounds,
  replayStream,
  type StreamSettings,
} from '@kvflow/common';

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
  const bounds = await replayBounds(nc, s);
  const model = new Map<string, string>();
  let valid = 0;
  for await (const { decoded } of replayStream(nc, s, bounds)) {
    if (!decoded.ok) continue;
    valid++;
    if (decoded.event.op === 'set') model.set(decoded.event.key, decoded.event.value);
    else model.delete(decoded.event.key);
  }
  const actual = await readAll(redis);
  let mismatched = 0;
  for (const [k, v] of model) if (actual.get(k) !== v) mismatched++;
  for (const k of actual.keys()) if (!model.has(k)) mismatched++;
  return { published: bounds.messages, valid, mismatchedKeys: mismatched, modelKeys: model.size };
}
