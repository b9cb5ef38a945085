import {
  applyFenced,
  decodeEvent,
  type Logger,
  type NatsConnection,
  newEvent,
  Publisher,
  type Redis,
  type StreamSettings,
  toFencedWrite,
  type WorkerSettings,
} from '@kvflow/common';
import { jetstream } from '@nats-io/jetstream';
import { untilAcked, VALUE, withStream } from './streams.js';
import { startWorker } from './worker.js';

const now = () => performance.timeOrigin + performance.now();

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export interface Latency {
  p50: number;
  p99: number;
  samples: number;
}

/** Records an event's latency once it is applied; returns a stop function. */
type Apply = (s: StreamSettings, record: (ts: number) => void) => Promise<() => Promise<void>>;

/**
 * Events published at `rate`/s through the Publisher for `seconds` s; time from the event's `ts` (when it is
 * published) to its being applied, as `apply` reports it. The first second is not counted.
 */
function endToEndWith(nc: NatsConnection, rate: number, seconds: number, apply: Apply): Promise<Latency> {
  return withStream(nc, async (s) => {
    const latencies: number[] = [];
    const warmUntil = now() + 1_000;
    const stop = await apply(s, (ts) => {
      if (ts > warmUntil) latencies.push(now() - ts);
    });
    const publisher = new Publisher(nc, {
      subject: s.subject,
      maxInFlight: 1024,
      timeoutMs: 5_000,
      retries: 3,
    });
    const total = rate * seconds;
    let sent = 0;
    const started = now();
    await new Promise<void>((done) => {
      const timer = setInterval(() => {
        const due = Math.min(total, Math.floor(((now() - started) / 1000) * rate));
        for (; sent < due; sent++) {
          void publisher.publish(
            newEvent({ op: 'set', key: `k${sent % 1000}`, value: VALUE, src: 'generator' }, now()),
          );
        }
        if (sent >= total) {
          clearInterval(timer);
          done();
        }
      }, 1);
    });
    await untilAcked(nc, s, total);
    await stop();
    return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), samples: latencies.length };
  });
}

/** The kvflow worker: latency to its batch being applied and acknowledged. */
export function endToEnd(
  nc: NatsConnection,
  redis: Redis,
  worker: WorkerSettings,
  log: Logger,
  rate: number,
  seconds: number,
): Promise<Latency> {
  return endToEndWith(nc, rate, seconds, async (s, record) => {
    const w = await startWorker(nc, redis, s, worker, log, (applied) => {
      for (const v of applied) record(v.event.ts);
    });
    return () => w.stop();
  });
}

/**
 * The anchor: the same path with nothing of the worker's around it. One fetch loop of the worker's batch size, each
 * event decoded, written with the same fenced script, then acknowledged, one at a time: the latency the machine,
 * nats-server and Redis give this path.
 */
export function bareEndToEnd(
  nc: NatsConnection,
  redis: Redis,
  worker: WorkerSettings,
  rate: number,
  seconds: number,
): Promise<Latency> {
  return endToEndWith(nc, rate, seconds, async (s, record) => {
    const consumer = await jetstream(nc).consumers.get(s.stream, s.consumer);
    let stopping = false;
    const loop = (async () => {
      while (!stopping) {
        const messages = await consumer.fetch({
          max_messages: worker.batchSize,
          expires: worker.pullExpiresMs,
        });
        for await (const m of messages) {
          const decoded = decodeEvent(m.data, s.valueMaxBytes);
          if (!decoded.ok) throw new Error(`event ${m.seq}: ${decoded.reason}`);
          await applyFenced(redis, [toFencedWrite(decoded.event, m.seq)], s.tombstoneTtlMs);
          m.ack();
          record(decoded.event.ts);
        }
      }
    })();
    return async () => {
      stopping = true;
      await loop;
    };
  });
}
