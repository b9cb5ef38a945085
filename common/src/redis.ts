import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { backoffMs } from './backoff.js';
import type { Logger } from './logger.js';
import type { ConnectionSettings } from './settings.js';

export type { Redis };

export interface RedisOptions {
  /** Keep retrying the first connection, logging each failure (services); otherwise fail at once (commands). */
  retryForever?: boolean;
  /** Fail a command that has had no reply after this long (a slow Redis is a transient failure too). */
  commandTimeoutMs?: number;
}

/**
 * Connects to Redis. Commands fail fast while disconnected (no offline queue): the worker must see an outage
 * at once, nak, and pause, rather than pile commands up in memory.
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

async function connectOnce(settings: ConnectionSettings, log: Logger, name: string, opts: RedisOptions) {
  const redis = new Redis(settings.redisUrl, {
    connectionName: name,
    password: settings.redisPassword,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: opts.commandTimeoutMs ?? 5_000,
    retryStrategy: (times) => backoffMs(times, 100, 2_000),
  });
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) log.warn({ err: err.message }, 'redis connection error');
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.info('redis connection restored');
    down = false;
  });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(`cannot connect to Redis at ${redactUrl(settings.redisUrl)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  log.info({ url: redactUrl(settings.redisUrl) }, 'redis connected');
  return redis;
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
