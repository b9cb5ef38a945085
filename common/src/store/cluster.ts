import calculateSlot from 'cluster-key-slot';
import type { Cluster, Redis as RedisNode } from 'ioredis';

/**
 * Redis Cluster topology as kvflow needs it: which masters serve which hash slots (from the ioredis client's slot
 * map), a hash tag that lands a key on a chosen slot, and the listing cursor that walks every master in turn.
 */

export const SLOT_COUNT = 16_384;

/** The hash slot of a key (its `{tag}` only, when it has one), as Redis Cluster computes it. */
export function keySlot(key: string): number {
  return calculateSlot(key);
}

/** A master and the slot that names it: the lowest slot it serves (its replica, once promoted, keeps it). */
export interface MasterAnchor {
  /** `host:port` as the client's slot map names it. */
  node: string;
  anchor: number;
  slots: number;
}

/**
 * The masters in a slot map (index = slot, value = the node keys serving it, master first), ordered by anchor.
 * Slots nobody serves are left out; `unserved` counts them.
 */
export function masterAnchors(slots: readonly (readonly string[] | undefined)[]): {
  masters: MasterAnchor[];
  unserved: number;
} {
  const byNode = new Map<string, MasterAnchor>();
  let unserved = 0;
  for (let slot = 0; slot < SLOT_COUNT; slot++) {
    const node = slots[slot]?.[0];
    if (!node) {
      unserved++;
      continue;
    }
    const m = byNode.get(node);
    if (m) m.slots++;
    else byNode.set(node, { node, anchor: slot, slots: 1 });
  }
  return { masters: [...byNode.values()].sort((a, b) => a.anchor - b.anchor), unserved };
}

const tags = new Map<number, string>();

/** A short string whose hash slot is `slot`: `{tag}` in a key places the key on that slot. */
export function slotTag(slot: number): string {
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOT_COUNT)
    throw new RangeError(`slot ${slot} is not a Redis Cluster hash slot (0-${SLOT_COUNT - 1})`);
  const known = tags.get(slot);
  if (known !== undefined) return known;
  // CRC16 spreads evenly: about SLOT_COUNT candidates on average, a few milliseconds, once per slot.
  for (let n = 0; ; n++) {
    const tag = n.toString(36);
    if (keySlot(tag) === slot) {
      tags.set(slot, tag);
      return tag;
    }
  }
}

// A cluster listing cursor is one unsigned 64-bit number, like a single Redis' SCAN cursor (the API's rule): the
// high 14 bits are the anchor slot of the master being scanned, the low 50 bits that master's own SCAN cursor (a
// position in its hash table; Redis 7.4+ adds the slot in 14 low bits of its own: that still leaves 2^36 buckets
// per slot, far beyond any server's memory).
const NODE_CURSOR_BITS = 50n;
const NODE_CURSOR_LIMIT = 1n << NODE_CURSOR_BITS;

export interface ClusterCursor {
  /** The anchor slot of the master to scan. */
  anchor: number;
  /** That master's SCAN cursor ('0': from its start). */
  nodeCursor: string;
}

export function encodeClusterCursor(c: ClusterCursor): string {
  const node = BigInt(c.nodeCursor);
  if (node >= NODE_CURSOR_LIMIT)
    throw new Error(
      `the master serving slot ${c.anchor} returned SCAN cursor ${c.nodeCursor}, beyond the ${NODE_CURSOR_BITS} bits a cluster listing cursor holds`,
    );
  return ((BigInt(c.anchor) << NODE_CURSOR_BITS) | node).toString();
}

/** The inverse of `encodeClusterCursor`, for any valid (unsigned 64-bit) cursor. */
export function decodeClusterCursor(cursor: string): ClusterCursor {
  const n = BigInt(cursor);
  return { anchor: Number(n >> NODE_CURSOR_BITS), nodeCursor: (n & (NODE_CURSOR_LIMIT - 1n)).toString() };
}

/** The masters in the client's current slot map, each with its open connection (none while it is being replaced). */
export function clusterMasters(cluster: Cluster): {
  masters: (MasterAnchor & { redis: RedisNode | undefined })[];
  unserved: number;
} {
  const { masters, unserved } = masterAnchors(cluster.slots);
  const open = new Map(cluster.nodes('master').map((r) => [`${r.options.host}:${r.options.port}`, r]));
  return { masters: masters.map((m) => ({ ...m, redis: open.get(m.node) })), unserved };
}
