import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { backoffMs } from '../service/backoff.js';
import type { Logger } from '../service/logger.js';
import type { ConnectionSettings } from '../settings/pipeline.js';

export type { NatsConnection };

/**
 * Connects to NATS and logs every connection status change. With `retryForever` (services), start-up keeps
 * retrying and logs each failure, so a process started before NATS is reachable says why it is not ready;
 * without it (commands), the first failure is an error.
 */
export async function connectNats(
  settings: ConnectionSettings,
  log: Logger,
  name: string,
  opts: { retryForever?: boolean } = {},
): Promise<NatsConnection> {
  const where = settings.natsServers.join(',');
  for (let attempt = 1; ; attempt++) {
    try {
      const nc = await connect({
        servers: settings.natsServers,
        name,
        user: settings.natsUser,
        pass: settings.natsPassword,
        token: settings.natsToken,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
      });
      log.info({ server: nc.getServer() }, 'nats connected');
      void logStatus(nc, log);
      return nc;
    } catch (err) {
      const message = `cannot connect to NATS at ${where}: ${(err as Error).message}`;
      if (!opts.retryForever) throw new Error(message, { cause: err });
      const retryInMs = backoffMs(attempt, 500, 5_000);
      log.warn({ attempt, retryInMs }, message);
      await sleep(retryInMs);
    }
  }
}

async function logStatus(nc: NatsConnection, log: Logger): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') {
      log.warn({ status: s.type, server: 'server' in s ? s.server : undefined }, 'nats connection status');
    }
  }
}
