import type { NatsConnection } from '@nats-io/transport-node';
import type { StreamSettings } from '../settings/pipeline.js';
import { replayBounds, replayStream } from '../stream/replay.js';
import { applyFenced, type FencedWrite, toFencedWrite } from './apply.js';
import type { Redis } from './redis.js';
import { clearAll } from './scan.js';

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
  opts: {
    fromSeq?: number;
    /** Stop after this sequence (default: the stream's last one when the rebuild starts). */
    toSeq?: number;
    reset?: boolean;
    batchSize?: number;
    onProgress?: (p: RebuildProgress) => void;
  },
): Promise<RebuildProgress> {
  const bounds = await replayBounds(nc, s, opts.fromSeq);
  if (opts.toSeq !== undefined) bounds.lastSeq = Math.min(bounds.lastSeq, opts.toSeq);
  const progress: RebuildProgress = {
    seq: bounds.firstSeq - 1,
    lastSeq: bounds.lastSeq,
    firstSeq: bounds.firstSeq,
    applied: 0,
    stale: 0,
    skipped: 0,
  };
  if (opts.reset) await clearAll(redis);
  const batchSize = opts.batchSize ?? 1000;
  let writes: FencedWrite[] = [];
  const flush = async () => {
    const outcomes = await applyFenced(redis, writes, s.tombstoneTtlMs);
    for (const o of outcomes) progress[o]++;
    writes = [];
    opts.onProgress?.({ ...progress });
  };
  for await (const { seq, decoded } of replayStream(nc, s, bounds, batchSize * 2)) {
    if (decoded.ok) writes.push(toFencedWrite(decoded.event, seq));
    else progress.skipped++;
    progress.seq = seq;
    if (writes.length >= batchSize) await flush();
  }
  if (writes.length > 0 || progress.seq >= bounds.firstSeq) await flush();
  return progress;
}
