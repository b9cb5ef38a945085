import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, type ClusterOptions, type RedisOptions as NodeOptions, Redis as RedisNode } from 'ioredis';
import { backoffMs } from '../service/backoff.js';
import type { Logger } from '../service/logger.js';
import type { ConnectionSettings } from '../settings/pipeline.js';
import { clusterMasters, slotTag } from './cluster.js';

/** A Redis connection: one server, or a Redis Cluster (REDIS_CLUSTER) through the ioredis Cluster client. */
export type Redis = RedisNode | Cluster;
export type { Cluster, RedisNode };

export function isCluster(redis: Redis): redis is Cluster {
  return redis instanceof Cluster;
}

export interface RedisOptions {
  /** Keep retrying the first connection, logging each failure (services); otherwise fail at once (commands). */
  retryForever?: boolean;
  /** Fail a command that has had no reply after this long (a slow Redis is a transient failure too). */
  commandTimeoutMs?: number;
}

/**
 * Connects to Redis, a single server or a Cluster as the settings say. Commands fail fast while disconnected (no
 * offline queue): the worker must see an outage at once, nak, and pause, rather than pile commands up in memory.
 */
export async function connectRedis(
  settings: ConnectionSettings,
  log: Logger,
  name: string,
  opts: RedisOptions = {},
): Promise<Redis> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectOnce(settings, log, name, opts);
    } catch (err) {
      if (!opts.retryForever) throw err;
      const retryInMs = backoffMs(attempt, 500, 5_000);
      log.warn({ attempt, retryInMs }, (err as Error).message);
      await sleep(retryInMs);
    }
  }
}

/** What every connection to a Redis server gets, alone or as a Cluster node. */
function nodeOptions(settings: ConnectionSettings, name: string, opts: RedisOptions) {
  return {
    connectionName: name,
    password: settings.redisPassword,
    maxRetriesPerRequest: 1,
    commandTimeout: opts.commandTimeoutMs ?? 5_000,
  } satisfies NodeOptions;
}

function createClient(settings: ConnectionSettings, name: string, opts: RedisOptions): Redis {
  const [first] = settings.redisUrls;
  if (!first) throw new Error('no Redis URL configured');
  if (!settings.redisCluster)
    return new RedisNode(first, {
      ...nodeOptions(settings, name, opts),
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: (times) => backoffMs(times, 100, 2_000),
    });
  // The seeds only lead to the topology (CLUSTER SLOTS); every node is then reached with the first URL's
  // credentials and TLS setting.
  const seeds = settings.redisUrls.map((u) => {
    const url = new URL(u);
    return { host: url.hostname, port: Number(url.port || 6379) };
  });
  const url = new URL(first);
  const options: ClusterOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    clusterRetryStrategy: (times) => backoffMs(times, 100, 2_000),
    // A command to a master that went away is retried (16 times, this far apart) while its replica takes over.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    // Notice a failover or a resharding even when no command hits a moved slot.
    slotsRefreshInterval: 5_000,
    redisOptions: {
      ...nodeOptions(settings, name, opts),
      username: url.username ? decodeURIComponent(url.username) : undefined,
      password: settings.redisPassword ?? (url.password ? decodeURIComponent(url.password) : undefined),
      tls: url.protocol === 'rediss:' ? {} : undefined,
    },
  };
  return new Cluster(seeds, options);
}

async function connectOnce(settings: ConnectionSettings, log: Logger, name: string, opts: RedisOptions) {
  const redis = createClient(settings, name, opts);
  const where = settings.redisUrls.map(redactUrl).join(',');
  // While connecting, the socket's error (ECONNREFUSED, NOAUTH, …) is the reason, not the client's own words for
  // what followed ("Connection is closed."); it is reported once, in the error below, not logged as well.
  let reason: Error | undefined;
  const connecting = (err: Error) => {
    reason ??= err;
  };
  redis.on('error', connecting);
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(
      `cannot connect to Redis${settings.redisCluster ? ' Cluster' : ''} at ${where}: ${(reason ?? (err as Error)).message}`,
      { cause: reason ?? err },
    );
  }
  redis.off('error', connecting);
  watchConnection(redis, log);
  log.info(
    isCluster(redis)
      ? { url: where, masters: clusterMasters(redis).masters.map((m) => m.node) }
      : { url: where },
    'redis connected',
  );
  return redis;
}

/**
 * Logs an outage when it starts, each new cause of it once (refused, then NOAUTH when Redis came back with a
 * password), and its end; on a Cluster, also per node that fails.
 */
function watchConnection(redis: Redis, log: Logger): void {
  const causes = new Set<string>();
  redis.on('error', (err: Error) => {
    if (causes.has(err.message) || causes.size >= 16) return;
    log.warn(
      { err: err.message },
      causes.size === 0 ? 'redis connection error' : 'redis connection error: new cause',
    );
    causes.add(err.message);
  });
  redis.on('ready', () => {
    if (causes.size > 0) log.info('redis connection restored');
    causes.clear();
  });
  if (!isCluster(redis)) return;
  // The client replaces a failed node's connection on every retry, so "back" is a new connection that got ready.
  const failing = new Set<string>();
  redis.on('node error', (err: Error, node: string) => {
    if (!failing.has(node)) log.warn({ node, err: err.message }, 'redis cluster node error');
    failing.add(node);
  });
  redis.on('+node', (conn: RedisNode) => {
    const node = `${conn.options.host}:${conn.options.port}`;
    conn.once('ready', () => {
      if (failing.delete(node)) log.info({ node }, 'redis cluster node reachable again');
    });
  });
}

/**
 * Resolves when Redis can take writes again: a single server answers PING; on a Cluster every slot has a master
 * and each master answers a command routed to one of its slots (so a master that died counts until its replica
 * has taken over, and the client followed).
 */
export async function probeRedis(redis: Redis): Promise<void> {
  if (!isCluster(redis)) {
    await redis.ping();
    return;
  }
  const { masters, unserved } = clusterMasters(redis);
  if (unserved > 0 || masters.length === 0)
    throw new Error(`${unserved} Redis Cluster hash slots have no master`);
  await Promise.all(masters.map((m) => redis.exists(`kvflow:{${slotTag(m.anchor)}}:probe`)));
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = 'redacted';
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}
