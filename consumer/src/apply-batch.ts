import {
  type ApplyOutcome,
  applyFenced,
  decodeEvent,
  type KvEvent,
  type Redis,
  toFencedWrite,
} from '@kvflow/common';
import type { JsMsg } from '@nats-io/jetstream';

export interface ValidMessage {
  msg: JsMsg;
  event: KvEvent;
}
export interface PoisonMessage {
  msg: JsMsg;
  reason: string;
}

/** Splits a batch into events that can be applied and poison messages (invalid JSON, schema, version). */
export function sortBatch(
  msgs: JsMsg[],
  valueMaxBytes: number,
): { valid: ValidMessage[]; poison: PoisonMessage[] } {
  const valid: ValidMessage[] = [];
  const poison: PoisonMessage[] = [];
  for (const msg of msgs) {
    const decoded = decodeEvent(msg.data, valueMaxBytes);
    if (decoded.ok) valid.push({ msg, event: decoded.event });
    else poison.push({ msg, reason: decoded.reason });
  }
  return { valid, poison };
}

/** Applies valid events to Redis in one pipelined round trip, fenced by their stream sequence. */
export function applyValid(
  redis: Redis,
  valid: ValidMessage[],
  tombstoneTtlMs: number,
): Promise<ApplyOutcome[]> {
  return applyFenced(
    redis,
    valid.map((v) => toFencedWrite(v.event, v.msg.seq)),
    tombstoneTtlMs,
  );
}
