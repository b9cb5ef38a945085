/**
 * `npm run bench`: throughput and latency of the kvflow worker, measured side by side in one run on local
 * servers (the machine is shared and noisy, so only ratios from the same run are compared).
 *
 *   ceiling  pull and ack with nats.js consume(), nothing else: the most a worker can do on this machine
 *   naive    per message: await one Redis write, then ack
 *   worker   the kvflow worker (fetch pump, batch, fenced pipelined apply to Redis, ack), in process
 *   e2e      publish at a fixed rate through the producer's publisher; time from event ts to applied
 *
 * The latency run comes first (quiet system); then each throughput variant runs ROUNDS times, interleaved, and
 * the best and the median round of each are reported.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import {
  connectionEnv,
  connectionSettings,
  connectNats,
  connectRedis,
  createLogger,
  createRegistry,
  decodeEvent,
  defineSettings,
  env,
  loadSettings,
  type NatsConnection,
  newEvent,
  Publisher,
  parseEnv,
  provision,
  Readiness,
  type StreamSettings,
  streamEnv,
  streamSettings,
  workerEnv,
  workerSettings,
} from '@kvflow/common';
import { createWorkerRuntime } from '@kvflow/consumer';
import { startNats, startRedis } from '@kvflow/testkit';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { Redis } from 'ioredis';

/** The benchmark's knobs; the worker under test runs with the consumer's own settings (BATCH_SIZE, …). */
const benchSettings = defineSettings(
  {
    ...workerEnv,
    BENCH_EVENTS: env.int(100_000, 1_000),
    BENCH_NAIVE_EVENTS: env.int(20_000, 1_000),
    BENCH_ROUNDS: env.int(3, 1, 50),
    BENCH_E2E_SECONDS: env.int(15, 1, 600),
    BENCH_E2E_ONLY: env.bool(false),
  },
  (e) => ({
    worker: workerSettings(e),
    events: e.BENCH_EVENTS,
    naiveEvents: e.BENCH_NAIVE_EVENTS,
    rounds: e.BENCH_ROUNDS,
    e2eSeconds: e.BENCH_E2E_SECONDS,
    e2eOnly: e.BENCH_E2E_ONLY,
  }),
);
const settings = loadSettings(benchSettings, 'bench');
const N = settings.events;
const N_NAIVE = settings.naiveEvents;
const ROUNDS = settings.rounds;
const E2E_RATE = 1_000;
const E2E_SECONDS = settings.e2eSeconds;
const BATCH_SIZE = settings.worker.batchSize;
const APPLY_CONCURRENCY = settings.worker.applyConcurrency;
const log = createLogger('bench', 'warn');
const now = () => performance.timeOrigin + performance.now();

let streamCounter = 0;

async function freshStream(nc: NatsConnection, events: number): Promise<StreamSettings> {
  const name = `BENCH${++streamCounter}`;
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
  const publisher = new Publisher(nc, {
    subject: s.subject,
    maxInFlight: 4096,
    timeoutMs: 10_000,
    retries: 3,
  });
  const value = 'x'.repeat(64);
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < events; i++) {
    pending.push(publisher.publish(newEvent({ op: 'set', key: `k${i % 10_000}`, value, src: 'generator' })));
    if (pending.length >= 4096) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  return s;
}

async function untilAcked(nc: NatsConnection, s: StreamSettings, n: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (;;) {
    const info = await jsm.consumers.info(s.stream, s.consumer);
    if (info.ack_floor.stream_seq >= n) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function timed(
  nc: NatsConnection,
  s: StreamSettings,
  n: number,
  run: () => Promise<() => Promise<void>>,
) {
  const started = performance.now();
  const stop = await run();
  await untilAcked(nc, s, n);
  const seconds = (performance.now() - started) / 1000;
  await stop();
  return n / seconds;
}

async function ceiling(nc: NatsConnection, n: number): Promise<number> {
  const s = await freshStream(nc, n);
  const consumer = await jetstream(nc).consumers.get(s.stream, s.consumer);
  return timed(nc, s, n, async () => {
    const messages = await consumer.consume({ max_messages: 1024 });
    const loop = (async () => {
      for await (const m of messages) m.ack();
    })();
    return async () => {
      await messages.close();
      await loop;
    };
  });
}

async function naive(nc: NatsConnection, redis: Redis, n: number): Promise<number> {
  const s = await freshStream(nc, n);
  const consumer = await jetstream(nc).consumers.get(s.stream, s.consumer);
  return timed(nc, s, n, async () => {
    const messages = await consumer.consume({ max_messages: 1024 });
    const loop = (async () => {
      for await (const m of messages) {
        const d = decodeEvent(m.data, s.valueMaxBytes);
        if (d.ok && d.event.op === 'set') await redis.set(`naive:${d.event.key}`, d.event.value);
        else if (d.ok) await redis.del(`naive:${d.event.key}`);
        m.ack();
      }
    })();
    return async () => {
      await messages.close();
      await loop;
    };
  });
}

async function startWorker(
  nc: NatsConnection,
  redis: Redis,
  s: StreamSettings,
  onApplied?: (e: readonly { event: { ts: number } }[]) => void,
) {
  const runtime = await createWorkerRuntime({
    nc,
    redis,
    stream: s,
    worker: settings.worker,
    registry: createRegistry(),
    readiness: new Readiness([]),
    log,
    onApplied,
  });
  return () => runtime.drain();
}

async function kvflowWorker(nc: NatsConnection, redis: Redis, n: number): Promise<number> {
  const s = await freshStream(nc, n);
  return timed(nc, s, n, () => startWorker(nc, redis, s));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function endToEnd(
  nc: NatsConnection,
  redis: Redis,
): Promise<{ p50: number; p99: number; samples: number }> {
  const s = await freshStream(nc, 0);
  const latencies: number[] = [];
  const warmUntil = now() + 1_000;
  const stop = await startWorker(nc, redis, s, (applied) => {
    const t = now();
    for (const v of applied) if (v.event.ts > warmUntil) latencies.push(t - v.event.ts);
  });
  const publisher = new Publisher(nc, {
    subject: s.subject,
    maxInFlight: 1024,
    timeoutMs: 5_000,
    retries: 3,
  });
  const total = E2E_RATE * E2E_SECONDS;
  let sent = 0;
  const started = now();
  await new Promise<void>((done) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((now() - started) / 1000) * E2E_RATE));
      for (; sent < due; sent++) {
        const e = newEvent(
          { op: 'set', key: `k${sent % 1000}`, value: 'v'.repeat(64), src: 'generator' },
          now(),
        );
        void publisher.publish(e);
      }
      if (sent >= total) {
        clearInterval(timer);
        done();
      }
    }, 1);
  });
  await untilAcked(nc, s, total);
  await stop();
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), samples: latencies.length };
}

function version(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).trim().split('\n')[0] ?? '';
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
  const connection = connectionSettings(
    parseEnv(connectionEnv, { NATS_URL: nats.url, REDIS_URL: redisServer.url }),
  );
  const nc = await connectNats(connection, log, 'bench');
  const redis = await connectRedis(connection, log, 'bench');
  const rounds: Array<{ ceiling: number; naive: number; worker: number }> = [];
  try {
    // Latency first, on a quiet system: the throughput rounds leave large streams and a large heap behind.
    process.stderr.write(`end-to-end at ${E2E_RATE} events/s for ${E2E_SECONDS} s…\n`);
    const e2e = await endToEnd(nc, redis);
    for (let r = 1; r <= ROUNDS && !settings.e2eOnly; r++) {
      const round = {
        ceiling: await ceiling(nc, N),
        naive: await naive(nc, redis, N_NAIVE),
        worker: await kvflowWorker(nc, redis, N),
      };
      rounds.push(round);
      process.stderr.write(
        `round ${r}/${ROUNDS}: ceiling ${round.ceiling.toFixed(0)}/s  naive ${round.naive.toFixed(0)}/s  worker ${round.worker.toFixed(0)}/s\n`,
      );
    }
    const best = (k: 'ceiling' | 'naive' | 'worker') => Math.max(...rounds.map((r) => r[k]));
    // Ratios per round (both sides measured minutes apart at most), then the median over rounds.
    const medianRatio = (num: 'worker', den: 'ceiling' | 'naive') => {
      const sorted = rounds.map((r) => r[num] / r[den]).sort((x, y) => x - y);
      return sorted[Math.floor(sorted.length / 2)] as number;
    };
    const result = {
      worker_eps: Math.round(best('worker')),
      ceiling_eps: Math.round(best('ceiling')),
      naive_eps: Math.round(best('naive')),
      worker_to_ceiling: Number(medianRatio('worker', 'ceiling').toFixed(3)),
      worker_to_naive: Number(medianRatio('worker', 'naive').toFixed(2)),
      ceiling_to_naive: Number((best('ceiling') / best('naive')).toFixed(2)),
      e2e_p50_ms: Number(e2e.p50.toFixed(3)),
      e2e_p99_ms: Number(e2e.p99.toFixed(3)),
      e2e_samples: e2e.samples,
      rounds,
      params: {
        events: N,
        naive_events: N_NAIVE,
        rounds: ROUNDS,
        batch_size: BATCH_SIZE,
        apply_concurrency: APPLY_CONCURRENCY,
        e2e_rate: E2E_RATE,
        e2e_seconds: E2E_SECONDS,
      },
      machine: {
        cpus: cpus().length,
        node: process.version,
        nats_server: version('nats-server', ['--version']),
        redis_server: version('redis-server', ['--version']),
      },
      at: new Date().toISOString(),
    };
    const targets = [
      ['worker / ceiling', result.worker_to_ceiling, '>= 0.8', result.worker_to_ceiling >= 0.8],
      ['worker / naive', result.worker_to_naive, '>= 8', result.worker_to_naive >= 8],
      ['e2e p99 (ms)', result.e2e_p99_ms, '<= 5', result.e2e_p99_ms <= 5],
    ] as const;
    const rows: Array<[string, string]> = [
      ['ceiling (pull+ack)', `${result.ceiling_eps} events/s`],
      ['naive (await write, ack)', `${result.naive_eps} events/s`],
      ['kvflow worker', `${result.worker_eps} events/s`],
      ['ceiling / naive', `${result.ceiling_to_naive} (the most worker/naive can be here)`],
      [
        'e2e latency p50 / p99',
        `${result.e2e_p50_ms} / ${result.e2e_p99_ms} ms (${e2e.samples} events at ${E2E_RATE}/s)`,
      ],
    ];
    console.log('\nkvflow benchmark (throughput: best round of each; ratios: median of per-round ratios)');
    for (const [k, v] of rows) console.log(`  ${k.padEnd(26)} ${v}`);
    console.log('\ntargets');
    for (const [k, v, want, ok] of targets)
      console.log(`  ${k.padEnd(26)} ${String(v).padEnd(10)} ${want.padEnd(8)} ${ok ? 'met' : 'NOT met'}`);
    const dir = resolve(import.meta.dirname, '../results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(resolve(dir, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nwrote ${resolve(dir, 'latest.json')}`);
  } finally {
    await nc.close();
    redis.disconnect();
    await Promise.all([nats.stop(), redisServer.stop()]);
  }
}

main().catch((err: Error) => {
  console.error(`bench failed: ${err.message}`);
  process.exit(1);
});
