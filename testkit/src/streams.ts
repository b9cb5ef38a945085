import {
  connectionEnv,
  connectionSettings,
  parseEnv,
  readConsumerLag,
  type StreamSettings,
  streamEnv,
  streamSettings,
} from '@kvflow/common';

/** Stream settings as a process started with `env` would read them (one source of truth for tests too). */
export function settingsFor(env: Record<string, string>): StreamSettings {
  return streamSettings(parseEnv(streamEnv, env));
}

export function connectionFor(env: Record<string, string>) {
  return connectionSettings(parseEnv(connectionEnv, env));
}

/** The durable consumer's lag and counters (the JetStream API's view). */
export const consumerLag = readConsumerLag;
