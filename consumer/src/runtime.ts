import { setTimeout as sleep } from 'node:timers/promises';
import {
  backoffMs,
  type Logger,
  type NatsConnection,
  type Readiness,
  type Redis,
  Registry,
  type StreamSettings,
  type ValidMessage,
  type WorkerSettings,
} from '@kvflow/common';
import { type Consumer, type JsMsg, jetstream } from '@nats-io/jetstream';
import type { Tracer } from '@opentelemetry/api';
import { BatchQueue } from './batch-queue.js';
import { SimulatedWork } from './demo/simulated-work.js';
import { createConsumerMetrics } from './metrics.js';
import { PullPump } from './pull-pump.js';
import { RedisGuard } from './redis-guard.js';
import { Worker, type WorkerTotals } from './worker.js';

export interface WorkerRuntimeDeps {
  nc: NatsConnection;
  redis: Redis;
  stream: StreamSettings;
  worker: WorkerSettings;
  registry: Registry;
  readiness: Readiness;
  log: Logger;
  /** Called after a batch is acknowledged (the benchmark measures end-to-end latency with it). */
  onApplied?: (events: readonly ValidMessage<JsMsg>[]) => void;
  /** With tracing on: the worker's spans (see EventSpans). */
  tracer?: Tracer | undefined;
}

export interface WorkerRuntime {
  /** The batch size in use (the demo's simulated work may lower the configured one). */
  readonly batchSize: number;
  /** Events pulled and not yet taken by an apply loop. */
  readonly queued: number;
  /** Events handled since start, by outcome. */
  readonly totals: Readonly<WorkerTotals>;
  /** Redis outages recovered from. */
  readonly recoveries: number;
  /** Issues no new pull, finishes and acknowledges every event already pulled, then resolves. */
  drain(): Promise<void>;
}

/**
 * One kvflow worker, wired: binds the durable consumer (waiting until it is provisioned), then runs the pull pump
 * into the batch queue and the apply loops from it. `consumer/main`, the benchmark and the demo all run workers
 * through here.
 */
export async function createWorkerRuntime(d: WorkerRuntimeDeps): Promise<WorkerRuntime> {
  const js = jetstream(d.nc);
  const consumer = await bindConsumer(
    () => js.consumers.get(d.stream.stream, d.stream.consumer),
    d.stream,
    d.log,
  );
  d.readiness.set('consumer', true);
  const work = new SimulatedWork(d.worker.workMs, d.worker.maxEventsPerSec);
  // The queue has room for the next batch of every apply loop and for the outstanding fetch; with the batches being
  // applied, a worker holds at most 2 * applyConcurrency + 1 batches.
  const queued = d.worker.applyConcurrency + 1;
  const batchSize = work.batchSize(d.worker.batchSize, queued + d.worker.applyConcurrency);
  const queue = new BatchQueue<JsMsg>(batchSize * queued);
  const pump = new PullPump(consumer, queue, { batchSize, expiresMs: d.worker.pullExpiresMs }, d.log);
  // Exemplars need the OpenMetrics exposition (the process's registry has it with tracing on).
  const exemplars =
    d.tracer !== undefined && (d.registry.contentType as string) === Registry.OPENMETRICS_CONTENT_TYPE;
  const metrics = createConsumerMetrics(d.registry, { exemplars });
  // Before pulling: if Redis lost acknowledged writes (while this worker was away), repair first.
  const guard = new RedisGuard({
    nc: d.nc,
    redis: d.redis,
    stream: d.stream,
    metrics,
    log: d.log,
    intervalMs: d.worker.watermarkIntervalMs,
    tracer: d.tracer,
  });
  await guard.start();
  const worker = new Worker({
    queue,
    pump,
    redis: d.redis,
    js,
    stream: d.stream,
    metrics,
    readiness: d.readiness,
    beforeApply: work.enabled ? (events) => work.spend(events) : undefined,
    log: d.log,
    batchSize,
    applyConcurrency: d.worker.applyConcurrency,
    nakBaseDelayMs: d.worker.nakBaseDelayMs,
    nakMaxDelayMs: d.worker.nakMaxDelayMs,
    onApplied: d.onApplied,
    tracer: d.tracer,
  });
  pump.start();
  worker.start();
  return {
    batchSize,
    get queued() {
      return queue.size;
    },
    get totals() {
      return worker.totals;
    },
    get recoveries() {
      return worker.recoveries;
    },
    drain: async () => {
      d.readiness.set('consumer', false);
      await pump.stop();
      await worker.done();
      guard.stop();
    },
  };
}

/** Waits for the durable consumer to exist (it is provisioned by a separate step), logging what is missing. */
async function bindConsumer(get: () => Promise<Consumer>, s: StreamSettings, log: Logger): Promise<Consumer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await get();
    } catch (err) {
      log.warn(
        { err: (err as Error).message, attempt },
        `consumer ${s.stream}/${s.consumer} not found; run "kvflow provision" (retrying)`,
      );
      await sleep(backoffMs(attempt, 500, 5_000));
    }
  }
}
