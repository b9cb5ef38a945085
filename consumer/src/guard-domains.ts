import { clusterMasters, isCluster, type Redis, slotTag } from '@kvflow/common';

/**
 * A Redis process whose data the guard vouches for, and where it keeps its bookkeeping: the single Redis, or one
 * Redis Cluster master (its slot group). On a Cluster each master loses data on its own (it restarts empty, or its
 * replica takes over with a lagging copy), so each keeps its own watermark and checked run id, in keys placed on
 * one of its slots (a hash tag): those keys live, replicate and fail over with that master's data, and a script
 * call on them runs on that master, which is the one whose run id it compares.
 */
export interface GuardDomain {
  /** Stable across a failover: the promoted replica serves the same slots, so it gets the same id. */
  id: string;
  /** The Cluster master's lowest slot (null: a single Redis). */
  anchor: number | null;
  watermarkKey: string;
  checkedRunKey: string;
  lockKey: string;
}

/** The single Redis: plain keys, as kvflow has always kept them. */
const SINGLE: GuardDomain = {
  id: 'redis',
  anchor: null,
  watermarkKey: 'kvflow:watermark',
  checkedRunKey: 'kvflow:checked-run',
  lockKey: 'kvflow:repair-lock',
};

/**
 * The domain of the Cluster master whose lowest slot is `anchor`. A resharding that moves a master's lowest slot
 * gives it a new domain, with no watermark yet: the guard then replays the whole stream once for it (safe, slow).
 */
export function clusterDomain(anchor: number): GuardDomain {
  const tag = `{${slotTag(anchor)}}`;
  return {
    id: `slot-${anchor}`,
    anchor,
    watermarkKey: `kvflow:${tag}:watermark`,
    checkedRunKey: `kvflow:${tag}:checked-run`,
    lockKey: `kvflow:${tag}:repair-lock`,
  };
}

/** The domains as the client sees the topology now; throws while some slots have no master. */
export function guardDomains(redis: Redis): GuardDomain[] {
  if (!isCluster(redis)) return [SINGLE];
  const { masters, unserved } = clusterMasters(redis);
  if (unserved > 0 || masters.length === 0)
    throw new Error(`${unserved} Redis Cluster hash slots have no master yet`);
  return masters.map((m) => clusterDomain(m.anchor));
}

/** For logs: which Redis a domain is now (on a Cluster, the master serving its slots at this moment). */
export function domainLabel(redis: Redis, domain: GuardDomain): string {
  if (domain.anchor === null || !isCluster(redis)) return 'redis';
  const node = clusterMasters(redis).masters.find((m) => m.anchor === domain.anchor)?.node ?? 'unknown';
  return `redis cluster master ${node} (slots from ${domain.anchor})`;
}
