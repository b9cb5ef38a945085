import { type JetStreamClient, type JetStreamManager, jetstream, type StoredMsg } from '@nats-io/jetstream';
import { headers, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { maxDeliveriesAdvisorySubject, type StreamSettings } from '../settings/pipeline.js';
import { type TraceHeaders, traceHeadersIn } from '../trace/message-context.js';

/**
 * The dead-letter stream holds two kinds of entries:
 * - poison copies, written by a worker before it `term()`s a message it can never apply;
 * - MAX_DELIVERIES advisories, captured by the stream itself, that point at an event still in the main stream.
 */

export const HEADER_REASON = 'Kvflow-Reason';
export const HEADER_ORIGINAL_SEQ = 'Kvflow-Original-Seq';
export const HEADER_DELIVERIES = 'Kvflow-Deliveries';

export interface PoisonCopy {
  originalSeq: number;
  deliveries: number;
  reason: string;
  data: Uint8Array;
  /** The event's trace context, kept so a replay continues its trace. */
  trace?: TraceHeaders | undefined;
}

/** Publishes a poison copy. Its dedup id is derived from the original sequence: a retry after a crash is a no-op. */
export async function publishPoison(js: JetStreamClient, s: StreamSettings, p: PoisonCopy): Promise<void> {
  const h = headers();
  h.set(HEADER_REASON, p.reason.slice(0, 512));
  h.set(HEADER_ORIGINAL_SEQ, String(p.originalSeq));
  h.set(HEADER_DELIVERIES, String(p.deliveries));
  setTraceHeaders(h, p.trace);
  await js.publish(`${s.dlqSubject}.poison`, p.data, {
    msgID: `dlq-${s.stream}-${p.originalSeq}`,
    headers: h,
  });
}

function setTraceHeaders(h: MsgHdrs, t: TraceHeaders | undefined): void {
  if (!t) return;
  h.set('traceparent', t.traceparent);
  if (t.tracestate) h.set('tracestate', t.tracestate);
}

export interface DeadLetter {
  /** Sequence in the dead-letter stream. */
  seq: number;
  kind: 'poison' | 'max_deliveries';
  reason: string;
  originalSeq: number;
  deliveries: number;
  time: string;
  /** The event payload, or null when the original is no longer in the main stream. */
  data: Uint8Array | null;
  /** The event's trace context, if it was traced. */
  trace: TraceHeaders | undefined;
}

interface MaxDeliveriesAdvisory {
  stream_seq: number;
  deliveries: number;
}

async function original(jsm: JetStreamManager, s: StreamSettings, seq: number): Promise<StoredMsg | null> {
  return jsm.streams.getMessage(s.stream, { seq }).catch(() => null);
}

async function toDeadLetter(jsm: JetStreamManager, s: StreamSettings, m: StoredMsg): Promise<DeadLetter> {
  if (m.subject === maxDeliveriesAdvisorySubject(s)) {
    const adv = m.json<MaxDeliveriesAdvisory>();
    const event = await original(jsm, s, adv.stream_seq);
    return {
      seq: m.seq,
      kind: 'max_deliveries',
      reason: `not acknowledged after ${adv.deliveries} deliveries`,
      originalSeq: adv.stream_seq,
      deliveries: adv.deliveries,
      time: m.time.toISOString(),
      data: event?.data ?? null,
      trace: event ? traceHeadersIn(event.header) : undefined,
    };
  }
  return {
    seq: m.seq,
    kind: 'poison',
    reason: m.header.get(HEADER_REASON) || 'unknown',
    originalSeq: Number(m.header.get(HEADER_ORIGINAL_SEQ)),
    deliveries: Number(m.header.get(HEADER_DELIVERIES)),
    time: m.time.toISOString(),
    data: m.data,
    trace: traceHeadersIn(m.header),
  };
}

/** Iterates dead letters in order, from `fromSeq` on. */
export async function* listDeadLetters(
  jsm: JetStreamManager,
  s: StreamSettings,
  fromSeq = 1,
): AsyncGenerator<DeadLetter> {
  const info = await jsm.streams.info(s.dlqStream);
  for (let seq = Math.max(fromSeq, info.state.first_seq); seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(s.dlqStream, { seq }).catch(() => null);
    if (m) yield await toDeadLetter(jsm, s, m);
  }
}

/**
 * Republishes a dead letter's payload to the event stream as a new event sequence and removes it from the
 * dead-letter stream. The replay's dedup id makes a repeated replay of the same entry a no-op.
 */
export async function replayDeadLetter(
  nc: NatsConnection,
  jsm: JetStreamManager,
  s: StreamSettings,
  letter: DeadLetter,
): Promise<number> {
  if (!letter.data)
    throw new Error(`dead letter ${letter.seq}: original event ${letter.originalSeq} is gone`);
  const h = headers();
  setTraceHeaders(h, letter.trace);
  const ack = await jetstream(nc).publish(s.subject, letter.data, {
    msgID: `replay-${s.dlqStream}-${letter.seq}`,
    headers: h,
  });
  await jsm.streams.deleteMessage(s.dlqStream, letter.seq, false);
  return ack.seq;
}
