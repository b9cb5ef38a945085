import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from './logger.js';
import type { ConnectionSettings } from './settings.js';

export type { NatsConnection };

/** Connects to NATS, retrying forever on disconnects, and logs every connection status change. */
export async function connectNats(
  settings: ConnectionSettings,
  log: Logger,
  name: string,
  opts: { waitOnFirstConnect?: boolean } = {},
): Promise<NatsConnection> {
  const nc = await connect({
    servers: settings.natsServers,
    name,
    user: settings.natsUser,
    pass: settings.natsPassword,
    token: settings.natsToken,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: opts.waitOnFirstConnect ?? false,
  }).catch((err: unknown) => {
    throw new Error(
      `cannot connect to NATS at ${settings.natsServers.join(',')}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  });
  log.info({ server: nc.getServer() }, 'nats connected');
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') {
        log.warn({ status: s.type, server: 'server' in s ? s.server : undefined }, 'nats connection status');
      }
    }
  })();
  return nc;
}
