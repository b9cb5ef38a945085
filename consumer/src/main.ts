#!/usr/bin/env node
import 'dotenv/config';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  connectNats,
  connectRedis,
  createLogger,
  createRegistry,
  loadOrExit,
  provision,
  Readiness,
  startOpsServer,
} from '@kvflow/common';
import { type Consumer, type JsMsg, jetstream } from '@nats-io/jetstream';
import { BatchQueue } from './batch-queue.js';
import { loadConsumerConfig } from './config.js';
import { DemoThrottle } from './demo-throttle.js';
import { createConsumerMetrics } from './metrics.js';
import { PullPump } from './pull-pump.js';
import { Worker } from './worker.js';

const config = loadOrExit(() => loadConsumerConfig(), 'kvflow-consumer');
const log = createLogger('consumer', config.connection.logLevel);

async function main(): Promise<void> {
  const registry = createRegistry();
  const metrics = createConsumerMetrics(registry);
  const readiness = new Readiness(['nats', 'redis', 'consumer']);
  const ops = await startOpsServer({
    host: config.metricsHost,
    port: config.metricsPort,
    registry,
    readiness,
  });
  log.info({ port: ops.port }, 'serving /metrics /healthz /readyz');

  const nc = await connectNats(config.connection, log, `kvflow-consumer-${process.pid}`, {
    retryForever: true,
  });
  readiness.set('nats', true);
  const redis = await connectRedis(config.connection, log, `kvflow-consumer-${process.pid}`, {
    commandTimeoutMs: config.redisCommandTimeoutMs,
    retryForever: true,
  });
  readiness.set('redis', true);
  if (config.provision) log.info(await provision(nc, config.stream), 'stream and consumer provisioned');

  const js = jetstream(nc);
  const consumer = await bindConsumer(() => js.consumers.get(config.stream.stream, config.stream.consumer));
  readiness.set('consumer', true);

  const throttle = new DemoThrottle(config.workMs, config.maxEventsPerSec);
  const batchSize = throttle.batchSize(config.batchSize);
  const queue = new BatchQueue<JsMsg>(batchSize * (config.applyConcurrency + 1));
  const pump = new PullPump(consumer, queue, { batchSize, expiresMs: config.pullExpiresMs }, log);
  const worker = new Worker({
    queue,
    pump,
    redis,
    js,
    stream: config.stream,
    metrics,
    readiness,
    throttle,
    log,
    batchSize,
    applyConcurrency: config.applyConcurrency,
    nakBaseDelayMs: config.nakBaseDelayMs,
    nakMaxDelayMs: config.nakMaxDelayMs,
  });
  pump.start();
  worker.start();
  log.info({ stream: config.stream.stream, consumer: config.stream.consumer, batchSize }, 'worker started');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const started = Date.now();
    log.info(
      { signal, graceMs: config.shutdownGraceMs },
      'draining: no new pulls, finishing in-flight events',
    );
    const deadline = setTimeout(() => {
      log.error(
        { pending: queue.size },
        'grace period exceeded; exiting (unacked events will be redelivered)',
      );
      process.exit(1);
    }, config.shutdownGraceMs);
    readiness.set('consumer', false);
    await pump.stop();
    await worker.done();
    await nc.drain();
    await redis.quit().catch(() => undefined);
    await ops.close();
    clearTimeout(deadline);
    log.info({ tookMs: Date.now() - started, totals: worker.totals }, 'drained; exiting');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/** Waits for the durable consumer to exist (it is provisioned by a separate step), logging what is missing. */
async function bindConsumer(get: () => Promise<Consumer>): Promise<Consumer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await get();
    } catch (err) {
      log.warn(
        { err: (err as Error).message, attempt },
        `consumer ${config.stream.stream}/${config.stream.consumer} not found; run "kvflow provision" (retrying)`,
      );
      await sleep(Math.min(500 * attempt, 5_000));
    }
  }
}

main().catch((err: Error) => {
  log.fatal(
    { err: err.message, cause: (err.cause as Error | undefined)?.message },
    'consumer failed to start',
  );
  process.exit(1);
});
