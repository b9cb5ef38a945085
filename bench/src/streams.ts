import {
  type NatsConnection,
  newEvent,
  type Publisher,
  parseEnv,
  provision,
  type StreamSettings,
  streamEnv,
  streamSettings,
} from '@kvflow/common';
import { jetstreamManager } from '@nats-io/jetstream';

let counter = 0;

/** A new stream, dead-letter stream and durable consumer, named apart from every other round's. */
export async function freshStream(nc: NatsConnection): Promise<StreamSettings> {
  const name = `BENCH${++counter}`;
  const s = streamSettings(
    parseEnv(streamEnv, {
      STREAM_NAME: name,
      STREAM_SUBJECT: `bench.${name}`,
      DLQ_STREAM_NAME: `${name}_DLQ`,
      DLQ_SUBJECT: `bench.${name}.dlq`,
      MAX_ACK_PENDING: '100000',
    }),
  );
  await provision(nc, s);
  return s;
}

/**
 * Runs `use` on a fresh stream, then deletes it and its dead-letter stream: every measurement starts from the same
 * server (a full run stores millions of events; kept, they would slow the rounds after them).
 */
export async function withStream<T>(nc: NatsConnection, use: (s: StreamSettings) => Promise<T>): Promise<T> {
  const s = await freshStream(nc);
  try {
    return await use(s);
  } finally {
    await dropStreams(nc, s.stream, s.dlqStream);
  }
}

/** Deletes streams by name (those already gone are skipped). */
export async function dropStreams(nc: NatsConnection, ...names: string[]): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const name of names) await jsm.streams.delete(name).catch(() => undefined);
}

/** The payload every publishing figure uses: a set of a 64-byte value, as the rate generator makes them. */
export const VALUE = 'x'.repeat(64);

/**
 * Publishes `n` events as fast as the publisher takes them, fed as the rate generator feeds it: a new event
 * whenever a publish slot is free (Go's PublishAsync blocks the same way once its window is full). Resolves with
 * events/s; rejects on the first event that could not be stored.
 */
export async function publishAll(publisher: Publisher, n: number, keySpace = 10_000): Promise<number> {
  const started = performance.now();
  let sent = 0;
  let stored = 0;
  await new Promise<void>((resolve, reject) => {
    const fill = () => {
      while (sent < n && publisher.hasCapacity) {
        const key = `k${sent++ % keySpace}`;
        publisher
          .publish(newEvent({ op: 'set', key, value: VALUE, src: 'generator' }))
          .then(onStored, reject);
      }
    };
    const onStored = () => {
      if (++stored === n) resolve();
      else fill();
    };
    fill();
  });
  return n / ((performance.now() - started) / 1000);
}

/** Waits until the durable consumer acknowledged the first `n` messages. */
export async function untilAcked(nc: NatsConnection, s: StreamSettings, n: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (;;) {
    const info = await jsm.consumers.info(s.stream, s.consumer);
    if (info.ack_floor.stream_seq >= n) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The environment a kvflow service process needs to run on the benchmark's servers and stream, quiet. */
export function benchServiceEnv(
  nats: { url: string },
  redis: { url: string },
  s: StreamSettings,
  extra: Record<string, string>,
): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    LOG_LEVEL: 'warn',
    PROVISION: 'false',
    STREAM_NAME: s.stream,
    STREAM_SUBJECT: s.subject,
    DLQ_STREAM_NAME: s.dlqStream,
    DLQ_SUBJECT: s.dlqSubject,
    ...extra,
  };
}
