import type { NatsConnection } from '@nats-io/transport-node';
import { type Span, SpanKind, type Tracer } from '@opentelemetry/api';
import type { StreamSettings } from '../settings/pipeline.js';
import { replayBounds, replayStream } from '../stream/replay.js';
import * as attr from '../trace/attributes.js';
import { contextFromHeaders } from '../trace/message-context.js';
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
    /** With tracing on: a `rebuild` span per traced event, in the event's own trace (child of its publish span). */
    tracer?: Tracer | undefined;
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
  let spans: Array<{ index: number; span: Span }> = [];
  const flush = async () => {
    const outcomes = await applyFenced(redis, writes, s.tombstoneTtlMs);
    for (const o of outcomes) progress[o]++;
    for (const { index, span } of spans)
      span.setAttribute(attr.APPLY_OUTCOME, outcomes[index] ?? 'unknown').end();
    writes = [];
    spans = [];
    opts.onProgress?.({ ...progress });
  };
  for await (const replayed of replayStream(nc, s, bounds, batchSize * 2)) {
    const { seq, decoded } = replayed;
    if (decoded.ok) {
      const parent = opts.tracer && contextFromHeaders(replayed.headers);
      if (parent && opts.tracer)
        spans.push({
          index: writes.length,
          span: rebuildSpan(opts.tracer, s, decoded.event.id, seq, parent),
        });
      writes.push(toFencedWrite(decoded.event, seq));
    } else progress.skipped++;
    progress.seq = seq;
    if (writes.length >= batchSize) await flush();
  }
  if (writes.length > 0 || progress.seq >= bounds.firstSeq) await flush();
  return progress;
}

/** A replayed event's span: the rebuild (or a worker's repair) applying it again, in the event's trace. */
function rebuildSpan(
  tracer: Tracer,
  s: StreamSettings,
  id: string,
  seq: number,
  parent: NonNullable<ReturnType<typeof contextFromHeaders>>,
): Span {
  return tracer.startSpan(
    `rebuild ${s.subject}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        ...attr.messagingAttributes(s.subject, 'process', 'process'),
        [attr.MESSAGING_MESSAGE_ID]: id,
        [attr.STREAM_SEQUENCE]: seq,
      },
    },
    parent,
  );
}
