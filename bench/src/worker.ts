import {
  createRegistry,
  type Logger,
  type NatsConnection,
  Publisher,
  Readiness,
  type Redis,
  type StreamSettings,
  type WorkerSettings,
} from '@kvflow/common';
import { createWorkerRuntime } from '@kvflow/consumer';
import {
  freePort,
  httpReady,
  type MemoryCgroup,
  type NatsServer,
  type RedisServer,
  spawnService,
} from '@kvflow/testkit';
import { jetstream } from '@nats-io/jetstream';
import { freshStream, publishAll, untilAcked } from './streams.js';

/** A stream holding `n` events and its consumer, ready to drain. */
async function backlog(nc: NatsConnection, n: number): Promise<StreamSettings> {
  const s = await freshStream(nc);
  await publishAll(
    new Publisher(nc, { subject: s.subject, maxInFlight: 4096, timeoutMs: 10_000, retries: 3 }),
    n,
  );
  return s;
}

async function drainRate(
  nc: NatsConnection,
  s: StreamSettings,
  n: number,
  start: () => Promise<() => Promise<void>>,
) {
  const started = performance.now();
  const stop = await start();
  await untilAcked(nc, s, n);
  const eps = n / ((performance.now() - started) / 1000);
  await stop();
  return eps;
}

/** Pull and ack with nats.js `consume()`, nothing else. */
async function consumeAndAck(nc: NatsConnection, n: number): Promise<number> {
  const s = await backlog(nc, n);
  const consumer = await jetstream(nc).consumers.get(s.stream, s.consumer);
  return drainRate(nc, s, n, async () => {
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

/**
 * Pull and ack the way the worker's pump pulls (bounded `fetch()`es of its batch size), acknowledging each message
 * as it arrives: no decode, no Redis. Two fetches are kept outstanding, so the round trip between one fetch's end
 * and the next one's first message is hidden (the worker's pump issues one at a time).
 */
async function fetchAndAck(nc: NatsConnection, n: number, w: WorkerSettings): Promise<number> {
  const s = await backlog(nc, n);
  const consumer = await jetstream(nc).consumers.get(s.stream, s.consumer);
  return drainRate(nc, s, n, async () => {
    let stopping = false;
    const loop = async () => {
      while (!stopping) {
        const messages = await consumer.fetch({ max_messages: w.batchSize, expires: w.pullExpiresMs });
        for await (const m of messages) m.ack();
      }
    };
    const loops = [loop(), loop()];
    return async () => {
      stopping = true;
      await Promise.all(loops);
    };
  });
}

/**
 * The pull+ack ceiling: the faster of nats.js `consume()` and the worker's own kind of pull (bounded fetches),
 * each only acknowledging, over the same size of backlog: what pulling alone reaches on this machine.
 */
export async function ceiling(
  nc: NatsConnection,
  n: number,
  w: WorkerSettings,
): Promise<{ eps: number; consume: number; fetch: number }> {
  const consume = await consumeAndAck(nc, n);
  const fetch = await fetchAndAck(nc, n, w);
  return { eps: Math.max(consume, fetch), consume, fetch };
}

export interface InProcessWorker {
  stop(): Promise<void>;
}

/** The kvflow worker in this process, through the consumer's public entry. */
export async function startWorker(
  nc: NatsConnection,
  redis: Redis,
  s: StreamSettings,
  worker: WorkerSettings,
  log: Logger,
  onApplied?: (events: readonly { event: { ts: number } }[]) => void,
): Promise<InProcessWorker> {
  const runtime = await createWorkerRuntime({
    nc,
    redis,
    stream: s,
    worker,
    registry: createRegistry(),
    readiness: new Readiness([]),
    log,
    onApplied,
  });
  return { stop: () => runtime.drain() };
}

export async function kvflowWorker(
  nc: NatsConnection,
  redis: Redis,
  n: number,
  worker: WorkerSettings,
  log: Logger,
): Promise<number> {
  const s = await backlog(nc, n);
  return drainRate(nc, s, n, async () => {
    const w = await startWorker(nc, redis, s, worker, log);
    return () => w.stop();
  });
}

async function residentBytes(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('process_resident_memory_bytes '));
  return line ? Number(line.split(' ')[1]) : Number.NaN;
}

/**
 * The worker as a process (`consumer/dist/main.js`, as deployed, inside `cgroup` when given: its pod's memory
 * limit): milliseconds from spawn to `/readyz` 200, and the largest resident set it reports while draining `n`
 * events.
 */
export async function workerProcess(
  nc: NatsConnection,
  nats: NatsServer,
  redis: RedisServer,
  n: number,
  cgroup?: MemoryCgroup,
): Promise<{ readyMs: number; rssMb: number }> {
  const s = await backlog(nc, n);
  const port = await freePort();
  const started = performance.now();
  const svc = spawnService(
    'consumer/dist/main.js',
    {
      PATH: process.env.PATH ?? '',
      NATS_URL: nats.url,
      REDIS_URL: redis.url,
      LOG_LEVEL: 'warn',
      PROVISION: 'false',
      METRICS_PORT: String(port),
      STREAM_NAME: s.stream,
      STREAM_SUBJECT: s.subject,
      DLQ_STREAM_NAME: s.dlqStream,
      DLQ_SUBJECT: s.dlqSubject,
    },
    [],
    cgroup,
  );
  try {
    while (!(await httpReady(port))) {
      if (svc.child.exitCode !== null) throw new Error(`worker exited: ${svc.output()}`);
      await new Promise((r) => setTimeout(r, 2));
    }
    const readyMs = performance.now() - started;
    let peak = 0;
    const sampler = setInterval(() => {
      residentBytes(port).then(
        (b) => {
          if (b > peak) peak = b;
        },
        () => undefined,
      );
    }, 100);
    await untilAcked(nc, s, n);
    clearInterval(sampler);
    peak = Math.max(peak, await residentBytes(port));
    return { readyMs, rssMb: peak / 1024 / 1024 };
  } finally {
    svc.child.kill('SIGTERM');
    await svc.exited;
  }
}
