#!/usr/bin/env node
import {
  connectNats,
  connectRedis,
  createLogger,
  createRegistry,
  loadSettings,
  packageVersion,
  provision,
  Readiness,
  startOpsServer,
  startTracing,
} from '@kvflow/common';
import { createWorkerRuntime } from './runtime.js';
import { consumerSettings } from './settings.js';

const settings = loadSettings(consumerSettings, 'kvflow-consumer');
const log = createLogger('consumer', settings.connection.logLevel);
const tracing = startTracing(settings.tracing, packageVersion(import.meta.url));
if (tracing)
  log.info({ endpoint: settings.tracing.tracesUrl, sampler: settings.tracing.sampler }, 'tracing on');

async function main(): Promise<void> {
  const registry = createRegistry({ openMetrics: tracing !== undefined });
  const readiness = new Readiness(['nats', 'redis', 'consumer']);
  const ops = await startOpsServer({
    host: settings.metricsHost,
    port: settings.metricsPort,
    registry,
    readiness,
  });
  log.info({ port: ops.port }, 'serving /metrics /healthz /readyz');

  const nc = await connectNats(settings.connection, log, `kvflow-consumer-${process.pid}`, {
    retryForever: true,
  });
  readiness.set('nats', true);
  const redis = await connectRedis(settings.connection, log, `kvflow-consumer-${process.pid}`, {
    commandTimeoutMs: settings.redisCommandTimeoutMs,
    retryForever: true,
  });
  readiness.set('redis', true);
  if (settings.provision) log.info(await provision(nc, settings.stream), 'stream and consumer provisioned');

  const runtime = await createWorkerRuntime({
    nc,
    redis,
    stream: settings.stream,
    worker: settings.worker,
    registry,
    readiness,
    log,
    tracer: tracing?.tracer,
  });
  log.info(
    { stream: settings.stream.stream, consumer: settings.stream.consumer, batchSize: runtime.batchSize },
    'worker started',
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const started = Date.now();
    log.info(
      { signal, graceMs: settings.shutdownGraceMs },
      'draining: no new pulls, finishing in-flight events',
    );
    const deadline = setTimeout(() => {
      log.error(
        { pending: runtime.queued },
        'grace period exceeded; exiting (unacked events will be redelivered)',
      );
      process.exit(1);
    }, settings.shutdownGraceMs);
    await runtime.drain();
    await nc.drain();
    await redis.quit().catch(() => undefined);
    await ops.close();
    await tracing?.shutdown().catch(() => undefined);
    clearTimeout(deadline);
    log.info({ tookMs: Date.now() - started, totals: runtime.totals }, 'drained; exiting');
    // Started with an IPC channel (the demo's worker pool): report the totals there, and exit only once sent.
    if (process.send && process.connected) {
      const send = process.send.bind(process);
      await Promise.race([
        new Promise<void>((sent) => send({ type: 'kvflow.totals', totals: runtime.totals }, () => sent())),
        new Promise<void>((gaveUp) => setTimeout(gaveUp, 5_000).unref()),
      ]);
    }
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: Error) => {
  log.fatal(
    { err: err.message, cause: (err.cause as Error | undefined)?.message },
    'consumer failed to start',
  );
  process.exit(1);
});
