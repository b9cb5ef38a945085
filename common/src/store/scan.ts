import { scriptGroups } from './apply.js';
import { clusterMasters, decodeClusterCursor, encodeClusterCursor, type MasterAnchor } from './cluster.js';
import { FIELD_VALUE, KEY_PREFIX } from './layout.js';
import { isCluster, type Redis, type RedisNode } from './redis.js';

/** Key listing and whole-keyspace scans; on a Cluster they run on every master in turn. */

/** The largest SCAN cursor: Redis cursors are unsigned 64-bit integers. */
export const SCAN_CURSOR_MAX = 18_446_744_073_709_551_615n;

/**
 * The listing cursor's rule as a pattern, for the API's JSON schema (a schema-valid cursor must be one the API takes):
 * the decimals from 0 to 2^64 - 1 without leading zeros. Numbers of up to 19 digits, then, for 20 digits, each prefix
 * of the maximum followed by a smaller digit and any digits, then the maximum itself. A unit test checks it against
 * `isScanCursor`.
 */
export const SCAN_CURSOR_PATTERN =
  '^(?:0|[1-9][0-9]{0,18}|1[0-7][0-9]{18}|18[0-3][0-9]{17}|184[' +
  '0-3][0-9]{16}|1844[0-5][0-9]{15}|18446[0-6][0-9]{14}|184467[0-3][0-9]{13}|1844674[0-3][0-9]{12}|184467440[0-6]' +
  '[0-9]{10}|1844674407[0-2][0-9]{9}|18446744073[0-6][0-9]{8}|1844674407370[0-8][0-9]{6}|18446744073709[0-4][0-9]' +
  '{5}|184467440737095[0-4][0-9]{4}|18446744073709550[0-9]{3}|18446744073709551[0-5][0-9]{2}|1844674407370955160[0-9]|1844674407370955161[0-4]|18446744073709551615)$';

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
