import {
  applyFenced,
  clearAll,
  decodeEvent,
  type FencedWrite,
  type NatsConnection,
  type Redis,
  type StreamSettings,
} from '@kvflow/common';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { toFencedWrite } from './apply-batch.js';

export interface RebuildProgress {
  /** Last stream sequence read. */
  seq: number;
  /** The stream's last sequence when the rebuild started: the rebuild stops there. */
  lastSeq: number;
  firstSeq: number;
  applied: number;
  stale: number;
  skipped: number;
}

/**
 * Rebuilds Redis from the stream: replays events from `fromSeq` (default: the first one still stored) up to the
 * stream's last sequence at start, through the same fenced apply the workers use. With `reset`, every kvflow key
 * is removed first so the result is exactly the log's state; without it, replay only fills in what is missing
 * or older (safe while workers run).
 */
export async function rebuildFromStream(
  nc: NatsConnection,
  redis: Redis,
  s: StreamSettings,
  opts: { fromSeq?: number; reset?: boolean; batchSize?: number; onProgress?: (p: RebuildProgress) => void },
): Promise<RebuildProgress> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(s.stream);
  const firstSeq = Math.max(opts.fromSeq ?? state.first_seq, state.first_seq);
  const progress: RebuildProgress = {
    seq: firstSeq - 1,
    lastSeq: state.last_seq,
    firstSeq,
    applied: 0,
    stale: 0,
    skipped: 0,
  };
  if (opts.reset) await clearAll(redis);
  if (state.messages === 0 || firstSeq > state.last_seq) return progress;

  const consumer = await jetstream(nc).consumers.get(s.stream, {
    filter_subjects: [s.subject],
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: firstSeq,
  });
  const batchSize = opts.batchSize ?? 1000;
  const messages = await consumer.consume({ max_messages: batchSize * 2 });
  let writes: FencedWrite[] = [];
  const flush = async () => {
    const outcomes = await applyFenced(redis, writes, s.tombstoneTtlMs);
    for (const o of outcomes) progress[o]++;
    writes = [];
    opts.onProgress?.({ ...progress });
  };
  for await (const m of messages) {
    const decoded = decodeEvent(m.data, s.valueMaxBytes);
    if (decoded.ok) writes.push(toFencedWrite(decoded.event, m.seq));
    else progress.skipped++;
    progress.seq = m.seq;
    const done = m.seq >= state.last_seq || m.info.pending === 0;
    if (writes.length >= batchSize || done) await flush();
    if (done) break;
  }
  await messages.close();
  return progress;
}
