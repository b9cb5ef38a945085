import type { ChainableCommander, Redis, Result } from 'ioredis';
import type { KvEvent } from './event.js';

/**
 * The Redis side of the pipeline: how a key is stored, the sequence-fenced apply, and the reads.
 *
 * Each user key is one Redis hash `kv:<key>` with field `s` (the stream sequence of the last applied event) and
 * field `v` (the value; absent for a tombstone). One script call touches exactly one Redis key, so it is valid on
 * Redis Cluster without hash tags.
 */

export const KEY_PREFIX = 'kv:';
const FIELD_SEQ = 's';
const FIELD_VALUE = 'v';

// Returns 1 when the event was applied, 0 when it was stale (its sequence is not newer than the stored one).
// A delete keeps a tombstone (the sequence, no value) with a TTL so a late, older write cannot resurrect the key.
const APPLY_LUA = `
local seq = tonumber(ARGV[2])
local current = tonumber(redis.call('HGET', KEYS[1], '${FIELD_SEQ}') or '0')
if seq <= current then return 0 end
if ARGV[1] == 'set' then
  redis.call('HSET', KEYS[1], '${FIELD_SEQ}', ARGV[2], '${FIELD_VALUE}', ARGV[3])
  redis.call('PERSIST', KEYS[1])
else
  redis.call('HSET', KEYS[1], '${FIELD_SEQ}', ARGV[2])
  redis.call('HDEL', KEYS[1], '${FIELD_VALUE}')
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return 1
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    kvflowApply(
      key: string,
      op: 'set' | 'del',
      seq: number,
      value: string,
      tombstoneTtlMs: number,
    ): Result<number, Context>;
  }
}

export interface FencedWrite {
  key: string;
  op: 'set' | 'del';
  value?: string | undefined;
  /** Stream sequence of the event: the fence. */
  seq: number;
}

export type ApplyOutcome = 'applied' | 'stale';

/** An event as the fenced apply needs it: its stream sequence is the fence. */
export function toFencedWrite(event: KvEvent, seq: number): FencedWrite {
  return event.op === 'set'
    ? { key: event.key, op: 'set', value: event.value, seq }
    : { key: event.key, op: 'del', seq };
}

export function redisKey(key: string): string {
  return KEY_PREFIX + key;
}

const scripted = new WeakSet<Redis>();

function ensureScript(redis: Redis): void {
  if (scripted.has(redis)) return;
  redis.defineCommand('kvflowApply', { numberOfKeys: 1, lua: APPLY_LUA });
  scripted.add(redis);
}

/**
 * Applies writes in one pipeline (one round trip), in order. Throws if Redis fails any of them; the caller then
 * retries the whole batch later, which is safe because every write is fenced by its sequence.
 */
export async function applyFenced(
  redis: Redis,
  writes: FencedWrite[],
  tombstoneTtlMs: number,
): Promise<ApplyOutcome[]> {
  if (writes.length === 0) return [];
  ensureScript(redis);
  const pipeline: ChainableCommander = redis.pipeline();
  for (const w of writes) pipeline.kvflowApply(redisKey(w.key), w.op, w.seq, w.value ?? '', tombstoneTtlMs);
  const replies = await pipeline.exec();
  if (!replies) throw new Error('redis pipeline was discarded');
  return replies.map(([err, reply], i) => {
    if (err)
      throw new Error(`redis rejected write ${i + 1}/${writes.length}: ${err.message}`, { cause: err });
    return reply === 1 ? 'applied' : 'stale';
  });
}

export async function readValue(redis: Redis, key: string): Promise<string | null> {
  return redis.hget(redisKey(key), FIELD_VALUE);
}

export interface KeyPage {
  keys: string[];
  /** Opaque cursor for the next page, or null when the listing is complete. */
  cursor: string | null;
}

function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * Lists live keys (tombstones excluded) with the given prefix, following Redis SCAN semantics: `limit` is a page
 * size hint, keys come in no particular order, and a key present for the whole listing is returned at least once.
 */
export async function listKeys(
  redis: Redis,
  prefix: string,
  cursor: string,
  limit: number,
): Promise<KeyPage> {
  const match = `${globEscape(KEY_PREFIX + prefix)}*`;
  const found: string[] = [];
  let next = cursor;
  do {
    const [c, batch] = await redis.scan(next, 'MATCH', match, 'COUNT', Math.max(limit, 100));
    next = c;
    if (batch.length > 0) {
      const live = redis.pipeline();
      for (const k of batch) live.hexists(k, FIELD_VALUE);
      const replies = (await live.exec()) ?? [];
      batch.forEach((k, i) => {
        if (replies[i]?.[1] === 1) found.push(k.slice(KEY_PREFIX.length));
      });
    }
  } while (next !== '0' && found.length < limit);
  found.sort();
  return { keys: found, cursor: next === '0' ? null : next };
}

/** Reads every live key and value (for tests, verification and small demos; SCANs the whole keyspace). */
export async function readAll(redis: Redis): Promise<Map<string, string>> {
  const state = new Map<string, string>();
  let cursor = '0';
  do {
    const [c, batch] = await redis.scan(cursor, 'MATCH', `${KEY_PREFIX}*`, 'COUNT', 1000);
    cursor = c;
    if (batch.length === 0) continue;
    const p = redis.pipeline();
    for (const k of batch) p.hget(k, FIELD_VALUE);
    const replies = (await p.exec()) ?? [];
    batch.forEach((k, i) => {
      const v = replies[i]?.[1];
      if (typeof v === 'string') state.set(k.slice(KEY_PREFIX.length), v);
    });
  } while (cursor !== '0');
  return state;
}

/** Deletes every kvflow key (before a full rebuild from the stream). Returns how many were removed. */
export async function clearAll(redis: Redis): Promise<number> {
  let removed = 0;
  let cursor = '0';
  do {
    const [c, batch] = await redis.scan(cursor, 'MATCH', `${KEY_PREFIX}*`, 'COUNT', 1000);
    cursor = c;
    if (batch.length > 0) removed += await redis.unlink(...batch);
  } while (cursor !== '0');
  return removed;
}
