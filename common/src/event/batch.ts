import { decodeEvent, type KvEvent } from './event.js';

/** A message whose payload is a valid event. */
export interface ValidMessage<M> {
  msg: M;
  event: KvEvent;
}
/** A message whose payload is not (invalid JSON, schema, version): it goes to the dead-letter stream. */
export interface PoisonMessage<M> {
  msg: M;
  reason: string;
}

/** Partitions a pulled batch into events that can be applied and poison messages, keeping the batch order. */
export function partitionBatch<M extends { data: Uint8Array }>(
  msgs: readonly M[],
  valueMaxBytes: number,
): { valid: ValidMessage<M>[]; poison: PoisonMessage<M>[] } {
  const valid: ValidMessage<M>[] = [];
  const poison: PoisonMessage<M>[] = [];
  for (const msg of msgs) {
    const decoded = decodeEvent(msg.data, valueMaxBytes);
    if (decoded.ok) valid.push({ msg, event: decoded.event });
    else poison.push({ msg, reason: decoded.reason });
  }
  return { valid, poison };
}
