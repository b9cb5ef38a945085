import type { ChainableCommander, Result } from 'ioredis';
import type { KvEvent } from '../event/event.js';
import { keySlot } from './cluster.js';
import { FIELD_SEQ, FIELD_TYPE, FIELD_VALUE, redisKey } from './layout.js';
import { isCluster, type Redis } from './redis.js';

/**
 * The sequence-fenced apply: one script call touches the keys of one hash slot only, so it is valid on Redis
 * Cluster without hash tags.
 */

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
