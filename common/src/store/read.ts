import { setTimeout as sleep } from 'node:timers/promises';
import { FIELD_SEQ, FIELD_TYPE, FIELD_VALUE, redisKey } from './layout.js';
import type { Redis } from './redis.js';

export async function readValue(redis: Redis, key: string): Promise<string | null> {
  return redis.hget(redisKey(key), FIELD_VALUE);
}

/** A key as stored: its value (null when absent or deleted), media type, and applied sequence (0 = never). */
export interface StoredEntry {
  value: string | null;
  /** The media type the writer declared; null for untyped values (served as text/plain). */
  contentType: string | null;
  /** The stream sequence of the last event applied to this key, kept by a delete's tombstone too. */
  seq: number;
}

/** Reads a key's value, media type and applied sequence in one round trip. */
export async function readEntry(redis: Redis, key: string): Promise<StoredEntry> {
  const [seq, value, contentType] = await redis.hmget(redisKey(key), FIELD_SEQ, FIELD_VALUE, FIELD_TYPE);
  return { value: value ?? null, contentType: contentType ?? null, seq: seq ? Number(seq) : 0 };
}

const POLL_MS_MIN = 10;
const POLL_MS_MAX = 100;

/**
 * Read your writes: reads (with `read`) until the entry's applied sequence reaches `minSeq` or `waitMs` runs out,
 * looking again after 10 ms, then twice as long each time up to 100 ms. Returns the last entry read; its `seq` tells
 * the caller whether the wait succeeded.
 */
export async function readAtLeast(
  read: () => Promise<StoredEntry>,
  minSeq: number,
  waitMs: number,
): Promise<StoredEntry> {
  let entry = await read();
  const deadline = Date.now() + waitMs;
  for (let pause = POLL_MS_MIN; entry.seq < minSeq; pause = Math.min(pause * 2, POLL_MS_MAX)) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(pause, left));
    entry = await read();
  }
  return entry;
}
