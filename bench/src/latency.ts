import {
  type Logger,
  type NatsConnection,
  newEvent,
  Publisher,
  type Redis,
  type StreamSettings,
  type WorkerSettings,
} from '@kvflow/common';
import { untilAcked, VALUE, withStream } from './streams.js';
import { startWorker } from './worker.js';

const now = () => performance.timeOrigin + performance.now();

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Events published at `rate`/s through the Publisher; time from the event's `ts` to its batch being acked. */
export function endToEnd(
  nc: NatsConnection,
  redis: Redis,
  worker: WorkerSettings,
  log: Logger,
  rate: number,
  seconds: number,
): Promise<{ p50: number; p99: number; samples: number }> {
  return withStream(nc, (s) => endToEndOn(nc, s, redis, worker, log, rate, seconds));
}

async function endToEndOn(
  nc: NatsConnection,
  s: StreamSettings,
  redis: Redis,
  worker: WorkerSettings,
  log: Logger,
  rate: number,
  seconds: number,
): Promise<{ p50: number; p99: number; samples: number }> {
  const latencies: number[] = [];
  const warmUntil = now() + 1_000;
  const w = await startWorker(nc, redis, s, worker, log, (applied) => {
    const t = now();
    for (const v of applied) if (v.event.ts > warmUntil) latencies.push(t - v.event.ts);
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
  await w.stop();
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), samples: latencies.length };
}
