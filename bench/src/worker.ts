import {
  createRegistry,
  type Logger,
  type NatsConnection,
  Publisher,
  Readiness,
  type Redis,
  type SpanSource,
  type StreamSettings,
  type WorkerSettings,
} from '@kvflow/common';
import { createWorkerRuntime } from '@kvflow/consumer';
import {
  freePort,
  httpReady,
  launchService,
  type MemoryCgroup,
  type NatsServer,
  type RedisServer,
} from '@kvflow/stack';
import { type JsMsg, jetstream } from '@nats-io/jetstream';
import { benchServiceEnv, publishAll, untilAcked, withStream } from './streams.js';

/** Runs `use` on a stream holding `n` events and its consumer, ready to drain; the stream is deleted afterwards. */
function withBacklog<T>(
  nc: NatsConnection,
  n: number,
  use: (s: StreamSettings) => Promise<T>,
  tracing?: SpanSource,
): Promise<T> {
  return withStream(nc, async (s) => {
    await publishAll(
      new Publisher(nc, { subject: s.subject, maxInFlight: 4096, timeoutMs: 10_000, retries: 3, tracing }),
      n,
    );
    return use(s);
  });
}

/** Events/s at which what `start` starts drains a backlog of `n` events (until the consumer's ack floor is `n`). */
function drainRate(
  nc: NatsConnection,
  n: number,
  start: (s: StreamSettings) => Promise<() => Promise<void>>,
  tracing?: SpanSource,
): Promise<number> {
  return withBacklog(
    nc,
    n,
    async (s) => {
      const started = performance.now();
      const stop = await start(s);
      await untilAcked(nc, s, n);
      const eps = n / ((performance.now() - started) / 1000);
      await stop();
      return eps;
    },
    tracing,
  );
}

/** Pull and ack with nats.js `consume()`, nothing else. */
function consumeAndAck(nc: NatsConnection, n: number): Promise<number> {
  return drainRate(nc, n, async (s) => {
    const consumer = await jetstream(nc).consumers.get(s.stream, s.consumer);
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
 * Pull and ack the way the worker's pump pulls (bounded `fetch()`es of its batch size) and acknowledges (the
 * messages that arrived in one event-loop turn together, as the worker acknowledges a batch at once: nats.js writes
 * them in one go): no decode, no Redis. Two fetches are kept outstanding, so the round trip between one fetch's end
 * and the next one's first message is hidden. Acknowledging each message as it arrives (`for await ... m.ack()`)
 * drained about half as fast here (75-95k against 140-190k events/s): a ceiling slower than the worker bounds nothing.
 */
function fetchAndAck(nc: NatsConnection, n: number, w: WorkerSettings): Promise<number> {
  return drainRate(nc, n, async (s) => {
    const consumer = await jetstream(nc).consumers.get(s.stream, s.consumer);
    let stopping = false;
    let pending: JsMsg[] = [];
    const ackPending = () => {
      const batch = pending;
      pending = [];
      for (const m of batch) m.ack();
    };
    const loop = async () => {
      while (!stopping) {
        const messages = await consumer.fetch({ max_messages: w.batchSize, expires: w.pullExpiresMs });
        for await (const m of messages) if (pending.push(m) === 1) setImmediate(ackPending);
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
  tracer?: SpanSource['tracer'],
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
    tracer,
  });
  return { stop: () => runtime.drain() };
}

export function kvflowWorker(
  nc: NatsConnection,
  redis: Redis,
  n: number,
  worker: WorkerSettings,
  log: Logger,
  tracing?: SpanSource,
): Promise<number> {
  // With tracing, the backlog is published with it too: the events it samples carry a traceparent.
  return drainRate(
    nc,
    n,
    async (s) => {
      const w = await startWorker(nc, redis, s, worker, log, undefined, tracing?.tracer);
      return () => w.stop();
    },
    tracing,
  );
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
export function workerProcess(
  nc: NatsConnection,
  nats: NatsServer,
  redis: RedisServer,
  n: number,
  cgroup?: MemoryCgroup,
): Promise<{ readyMs: number; rssMb: number }> {
  return withBacklog(nc, n, (s) => workerProcessOn(nc, s, nats, redis, n, cgroup));
}

async function workerProcessOn(
  nc: NatsConnection,
  s: StreamSettings,
  nats: NatsServer,
  redis: RedisServer,
  n: number,
  cgroup?: MemoryCgroup,
): Promise<{ readyMs: number; rssMb: number }> {
  const port = await freePort();
  const started = performance.now();
  const svc = launchService(
    'consumer/dist/main.js',
    benchServiceEnv(nats, redis, s, { METRICS_PORT: String(port) }),
    { captureOutput: true, ...(cgroup ? { cgroup } : {}) },
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
