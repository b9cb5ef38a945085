import type { NatsConnection } from '@kvflow/common';
import {
  connectionEnv,
  connectionSettings,
  parseEnv,
  type StreamSettings,
  streamEnv,
  streamSettings,
} from '@kvflow/common';
import { jetstreamManager } from '@nats-io/jetstream';

/** Stream settings as a process started with `env` would read them (one source of truth for tests too). */
export function settingsFor(env: Record<string, string>): StreamSettings {
  return streamSettings(parseEnv(streamEnv, env));
}

export function connectionFor(env: Record<string, string>) {
  return connectionSettings(parseEnv(connectionEnv, env));
}

export async function consumerLag(nc: NatsConnection, s: StreamSettings) {
  const info = await (await jetstreamManager(nc)).consumers.info(s.stream, s.consumer);
  return {
    pending: info.num_pending,
    ackPending: info.num_ack_pending,
    redelivered: info.num_redelivered,
    delivered: info.delivered.stream_seq,
  };
}
