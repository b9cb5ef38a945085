import type { ChainableCommander, Result } from 'ioredis';
import type { KvEvent } from './event.js';
import { isCluster, type Redis, type RedisNode } from './redis.js';
import {
  clusterMasters,
  decodeClusterCursor,
  encodeClusterCursor,
  keySlot,
  type MasterAnchor,
} from './redis-cluster.js';

/**
 * The Redis side of the pipeline: how a key is stored, the sequence-fenced apply, and the reads.
 *
 * Each user key is one Redis hash `kv:<key>` with field `s` (the stream sequence of the last applied event, the
 * fence), field `v` (the value; absent for a tombstone) and field `t` (the value's media type; absent for untyped
 * values and tombstones). One script call touches the keys of one hash slot only, so it is valid on Redis
 * Cluster without hash tags. On a Cluster, key scans (listing, readAll, clearAll) run on every master in turn.
 */

export const KEY_PREFIX = 'kv:';
const FIELD_SEQ = 's';
const FIELD_VALUE = 'v';
const FIELD_TYPE = 't';

// Applies a group of writes, KEYS[i] with ARGV[4i-3..4i] = op, seq, value, content type ('' = untyped: a set
// without a type drops an old one); the last ARGV is the tombstone TTL (ms). Returns, per write, 1 when it was
// applied and 0 when it was stale (its sequence is not newer than the stored one). A delete keeps a tombstone (the
// sequence, no value) with a TTL, so a late, older write cannot resurrect the key.
const APPLY_LUA = `
local ttl = ARGV[#ARGV]
local out = {}
for i = 1, #KEYS do
  local k = KEYS[i]
  local a = (i - 1) * 4
  local seq = tonumber(ARGV[a + 2])
  local current = tonumber(redis.call('HGET', k, '${FIELD_SEQ}') or '0')
  if seq <= current then
    out[i] = 0
  else
    if ARGV[a + 1] == 'set' then
      if ARGV[a + 4] == '' then
        redis.call('HSET', k, '${FIELD_SEQ}', ARGV[a + 2], '${FIELD_VALUE}', ARGV[a + 3])
        redis.call('HDEL', k, '${FIELD_TYPE}')
      else
        redis.call('HSET', k, '${FIELD_SEQ}', ARGV[a + 2], '${FIELD_VALUE}', ARGV[a + 3], '${FIELD_TYPE}', ARGV[a + 4])
      end
      redis.call('PERSIST', k)
    else
      redis.call('HSET', k, '${FIELD_SEQ}', ARGV[a + 2])
      redis.call('HDEL', k, '${FIELD_VALUE}', '${FIELD_TYPE}')
      redis.call('PEXPIRE', k, ttl)
    end
    out[i] = 1
  end
end
return out
`;

/** Writes per script call: enough to amortize the call, small enough not to hold Redis up for long. */
const GROUP_MAX = 256;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** numkeys, the keys, then op, seq, value, content type per key, then the tombstone TTL. */
    kvflowApply(numKeys: number, ...keysAndArgs: (string | number)[]): Result<number[], Context>;
  }
}

export interface FencedWrite {
  key: string;
  op: 'set' | 'del';
  value?: string | undefined;
  /** The value's media type (sets only); undefined = untyped. */
  contentType?: string | undefined;
  /** Stream sequence of the event: the fence. */
  seq: number;
}

export type ApplyOutcome = 'applied' | 'stale';

/** An event as the fenced apply needs it: its stream sequence is the fence. */
export function toFencedWrite(event: KvEvent, seq: number): FencedWrite {
  if (event.op === 'del') return { key: event.key, op: 'del', seq };
  return event.ct === undefined
    ? { key: event.key, op: 'set', value: event.value, seq }
    : { key: event.key, op: 'set', value: event.value, contentType: event.ct, seq };
}

export function redisKey(key: string): string {
  return KEY_PREFIX + key;
}

const scripted = new WeakSet<Redis>();

function ensureScript(redis: Redis): void {
  if (scripted.has(redis)) return;
  redis.defineCommand('kvflowApply', { lua: APPLY_LUA });
  scripted.add(redis);
}

/**
 * Splits a batch (its Redis keys) into script calls, as indexes into it. One call may only touch keys of one hash
 * slot on Redis Cluster, so there (`bySlot`) the writes are grouped by slot; a single Redis has no slots and takes
 * the batch in groups of GROUP_MAX. Order is kept within a group, and groups of one key never interleave, so every
 * key sees its writes in batch order.
 */
export function scriptGroups(keys: readonly string[], bySlot: boolean): number[][] {
  const groupsBySlot = new Map<number, number[]>();
  keys.forEach((k, i) => {
    const slot = bySlot ? keySlot(k) : 0;
    const group = groupsBySlot.get(slot);
    if (group) group.push(i);
    else groupsBySlot.set(slot, [i]);
  });
  const groups: number[][] = [];
  for (const indexes of groupsBySlot.values())
    for (let i = 0; i < indexes.length; i += GROUP_MAX) groups.push(indexes.slice(i, i + GROUP_MAX));
  return groups;
}

type Reply = [Error | null, unknown];
/** One script call: its keys, then op, seq, value, content type per key, then the tombstone TTL. */
interface ScriptCall {
  numKeys: number;
  args: (string | number)[];
}

/**
 * Runs the script calls: on a single Redis as one pipeline (one round trip). On a Cluster each call on its own, all
 * at once: a cluster pipeline must stay on one node and is not redirected call by call, while a single command
 * follows MOVED and failover redirections by itself (the calls still share each node's connection).
 */
async function runScriptCalls(redis: Redis, calls: ScriptCall[]): Promise<Reply[]> {
  if (isCluster(redis)) {
    const settled = await Promise.allSettled(calls.map((c) => redis.kvflowApply(c.numKeys, ...c.args)));
    return settled.map(
      (r): Reply => (r.status === 'fulfilled' ? [null, r.value] : [r.reason as Error, null]),
    );
  }
  const pipeline: ChainableCommander = redis.pipeline();
  for (const c of calls) pipeline.kvflowApply(c.numKeys, ...c.args);
  const replies = await pipeline.exec();
  if (!replies) throw new Error('redis pipeline was discarded');
  return replies;
}

/**
 * Applies writes in one round trip: a script call per group of keys (see scriptGroups), each write fenced by its
 * sequence. Throws if Redis fails any of them; the caller then retries the whole batch later, which is safe because
 * every write is fenced.
 */
export async function applyFenced(
  redis: Redis,
  writes: FencedWrite[],
  tombstoneTtlMs: number,
): Promise<ApplyOutcome[]> {
  if (writes.length === 0) return [];
  ensureScript(redis);
  const keys = writes.map((w) => redisKey(w.key));
  const groups = scriptGroups(keys, isCluster(redis));
  const calls = groups.map((group): ScriptCall => {
    const args: (string | number)[] = [];
    for (const i of group) args.push(keys[i] as string);
    for (const i of group) {
      const w = writes[i] as FencedWrite;
      args.push(w.op, w.seq, w.value ?? '', w.contentType ?? '');
    }
    args.push(tombstoneTtlMs);
    return { numKeys: group.length, args };
  });
  const replies = await runScriptCalls(redis, calls);
  const outcomes: ApplyOutcome[] = new Array(writes.length);
  replies.forEach(([err, reply], g) => {
    if (err) throw new Error(`redis rejected a group of writes: ${err.message}`, { cause: err });
    const group = groups[g] as number[];
    (reply as number[]).forEach((r, j) => {
      outcomes[group[j] as number] = r === 1 ? 'applied' : 'stale';
    });
  });
  return outcomes;
}

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

/** The largest SCAN cursor: Redis cursors are unsigned 64-bit integers. */
export const SCAN_CURSOR_MAX = 18_446_744_073_709_551_615n;

/**
 * A regular expression (as a string, for JSON schema too) matching exactly the decimal integers from 0 to `max`
 * without leading zeros. Built digit by digit: shorter numbers, then each prefix of `max` followed by a smaller
 * digit and any digits, then `max` itself.
 */
export function decimalAtMostPattern(max: bigint): string {
  const m = max.toString();
  const n = m.length;
  const alts = ['0'];
  if (n > 1) alts.push(n === 2 ? '[1-9]' : `[1-9][0-9]{0,${n - 2}}`);
  for (let i = 0; i < n; i++) {
    const d = Number(m[i]);
    const lo = i === 0 ? 1 : 0;
    if (d - 1 < lo) continue;
    const digit = d - 1 === lo ? String(lo) : `[${lo}-${d - 1}]`;
    const rest = n - i - 1;
    alts.push(`${m.slice(0, i)}${digit}${rest === 0 ? '' : rest === 1 ? '[0-9]' : `[0-9]{${rest}}`}`);
  }
  alts.push(m);
  return `^(?:${[...new Set(alts)].join('|')})$`;
}

/** The listing cursor's rule as a pattern: a decimal unsigned 64-bit integer, no leading zeros. */
export const SCAN_CURSOR_PATTERN = decimalAtMostPattern(SCAN_CURSOR_MAX);

/** True when `cursor` is a valid listing cursor (what SCAN accepts, in canonical form). */
export function isScanCursor(cursor: string): boolean {
  return /^(?:0|[1-9][0-9]*)$/.test(cursor) && cursor.length <= 20 && BigInt(cursor) <= SCAN_CURSOR_MAX;
}

export interface KeyPage {
  keys: string[];
  /** Opaque cursor for the next page, or null when the listing is complete. */
  cursor: string | null;
}

function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** One SCAN step on one server: adds the live keys (tombstones excluded) it found to `found`; the next cursor. */
async function scanLive(node: RedisNode, cursor: string, match: string, count: number, found: string[]) {
  const [next, batch] = await node.scan(cursor, 'MATCH', match, 'COUNT', count);
  if (batch.length > 0) {
    const live = node.pipeline();
    for (const k of batch) live.hexists(k, FIELD_VALUE);
    const replies = (await live.exec()) ?? [];
    batch.forEach((k, i) => {
      if (replies[i]?.[1] === 1) found.push(k.slice(KEY_PREFIX.length));
    });
  }
  return next;
}

/**
 * Lists live keys (tombstones excluded) with the given prefix, following Redis SCAN semantics: `limit` is a page
 * size hint, keys come in no particular order, and a key present for the whole listing is returned at least once.
 * On a Cluster the listing walks the masters in turn (see redis-cluster's cursor); while slots move (a failover,
 * a resharding) that promise holds only as far as SCAN's own does on the node that took them over.
 */
export async function listKeys(
  redis: Redis,
  prefix: string,
  cursor: string,
  limit: number,
): Promise<KeyPage> {
  if (!isScanCursor(cursor))
    throw new RangeError(`cursor ${JSON.stringify(cursor)} is not an unsigned 64-bit integer`);
  const match = `${globEscape(KEY_PREFIX + prefix)}*`;
  const count = Math.max(limit, 100);
  const found: string[] = [];
  let next: string | null = cursor;
  if (isCluster(redis)) {
    let at = decodeClusterCursor(cursor);
    do {
      const { masters } = clusterMasters(redis);
      // The master the cursor names or, if its slot group is gone, the next one.
      const m = masters.find((x) => x.anchor >= at.anchor);
      if (!m) {
        next = null;
        break;
      }
      const nodeCursor = await scanLive(
        masterNode(m),
        m.anchor === at.anchor ? at.nodeCursor : '0',
        match,
        count,
        found,
      );
      if (nodeCursor !== '0') at = { anchor: m.anchor, nodeCursor };
      else {
        const following = masters.find((x) => x.anchor > m.anchor);
        if (!following) {
          next = null;
          break;
        }
        at = { anchor: following.anchor, nodeCursor: '0' };
      }
      next = encodeClusterCursor(at);
    } while (found.length < limit);
  } else {
    do next = await scanLive(redis, next, match, count, found);
    while (next !== '0' && found.length < limit);
    if (next === '0') next = null;
  }
  found.sort();
  return { keys: found, cursor: next };
}

function masterNode(m: MasterAnchor & { redis?: RedisNode | undefined }): RedisNode {
  if (!m.redis)
    throw new Error(
      `no connection to ${m.node}, the Redis Cluster master serving slot ${m.anchor} (failover in progress?)`,
    );
  return m.redis;
}

/** The servers a full key scan visits: the single Redis, or every Cluster master. */
function scanNodes(redis: Redis): RedisNode[] {
  if (!isCluster(redis)) return [redis];
  const { masters, unserved } = clusterMasters(redis);
  if (unserved > 0)
    throw new Error(`${unserved} Redis Cluster hash slots have no master; cannot scan every key`);
  return masters.map(masterNode);
}

/** Every kvflow key (tombstones included) on every server, a SCAN batch at a time. */
async function* scanAllKeys(redis: Redis): AsyncGenerator<{ node: RedisNode; keys: string[] }> {
  for (const node of scanNodes(redis)) {
    let cursor = '0';
    do {
      const [c, keys] = await node.scan(cursor, 'MATCH', `${KEY_PREFIX}*`, 'COUNT', 1000);
      cursor = c;
      if (keys.length > 0) yield { node, keys };
    } while (cursor !== '0');
  }
}

/** Reads every live key and value (for tests, verification and small demos; SCANs the whole keyspace). */
export async function readAll(redis: Redis): Promise<Map<string, string>> {
  const state = new Map<string, string>();
  for await (const { node, keys } of scanAllKeys(redis)) {
    const p = node.pipeline();
    for (const k of keys) p.hget(k, FIELD_VALUE);
    const replies = (await p.exec()) ?? [];
    keys.forEach((k, i) => {
      const [err, v] = replies[i] ?? [null, null];
      if (err) throw new Error(`cannot read ${k}: ${err.message}`, { cause: err });
      if (typeof v === 'string') state.set(k.slice(KEY_PREFIX.length), v);
    });
  }
  return state;
}

/** Deletes every kvflow key (before a full rebuild from the stream). Returns how many were removed. */
export async function clearAll(redis: Redis): Promise<number> {
  let removed = 0;
  for await (const { node, keys } of scanAllKeys(redis)) {
    if (!isCluster(redis)) {
      removed += await node.unlink(...keys);
      continue;
    }
    // A multi-key command on a Cluster node must stay within one hash slot.
    const p = node.pipeline();
    for (const group of scriptGroups(keys, true)) p.unlink(...group.map((i) => keys[i] as string));
    for (const [err, n] of (await p.exec()) ?? []) {
      if (err) throw new Error(`cannot delete kvflow keys: ${err.message}`, { cause: err });
      removed += n as number;
    }
  }
  return removed;
}
