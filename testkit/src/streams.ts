import {
  connectionEnv,
  connectionSettings,
  type KvEvent,
  type NatsConnection,
  Publisher,
  parseEnv,
  readConsumerLag,
  type StreamSettings,
  streamEnv,
  streamSettings,
} from '@kvflow/common';
import { waitUntil } from '@kvflow/stack';
import { mapLimit, randomEvent } from './model.js';

/** Stream settings as a process started with `env` would read them (one source of truth for tests too). */
export function settingsFor(env: Record<string, string>): StreamSettings {
  return streamSettings(parseEnv(streamEnv, env));
}

export function connectionFor(env: Record<string, string>) {
  return connectionSettings(parseEnv(connectionEnv, env));
}

/** The durable consumer's lag and counters (the JetStream API's view). */
export const consumerLag = readConsumerLag;

/** Stream, subject and dead-letter names of their own, so tests sharing one nats-server never meet. */
export function streamNames(name: string): Record<string, string> {
  const subject = name.toLowerCase();
  return {
    STREAM_NAME: name,
    STREAM_SUBJECT: `${subject}.events`,
    DLQ_STREAM_NAME: `${name}_DLQ`,
    DLQ_SUBJECT: `${subject}.dlq`,
  };
}

/** True once the durable consumer has nothing left to deliver and nothing unacknowledged. */
export async function caughtUp(nc: NatsConnection, s: StreamSettings): Promise<boolean> {
  const lag = await readConsumerLag(nc, s);
  return lag.pending === 0 && lag.ackPending === 0;
}

export interface RecordingPublisher {
  /** Every event the stream stored, by its sequence: the input of `modelState`. */
  bySeq: Map<number, KvEvent>;
  /** Publishes `n` random events over `keySpace` keys, `inFlight` at a time, recording each stored one. */
  publish(n: number): Promise<unknown>;
}

export function recordingPublisher(
  nc: NatsConnection,
  s: StreamSettings,
  opts: { keySpace: number; inFlight: number },
): RecordingPublisher {
  const publisher = new Publisher(nc, {
    subject: s.subject,
    maxInFlight: opts.inFlight,
    timeoutMs: 5000,
    retries: 2,
  });
  const bySeq = new Map<number, KvEvent>();
  return {
    bySeq,
    publish: (n) =>
      mapLimit(
        Array.from({ length: n }, () => randomEvent(opts.keySpace)),
        opts.inFlight,
        async (e) => bySeq.set((await publisher.publish(e)).seq, e),
      ),
  };
}

/** Waits until the durable consumer has caught up (lag 0); a failed read (NATS reconnecting) counts as not yet. */
export function waitCaughtUp(nc: NatsConnection, s: StreamSettings, timeoutMs = 60_000): Promise<void> {
  return waitUntil(
    `${s.stream}/${s.consumer} caught up (lag 0)`,
    () => caughtUp(nc, s).catch(() => false),
    timeoutMs,
  );
}
