#!/usr/bin/env node
import {
  connectNats,
  connectRedis,
  createLogger,
  createRegistry,
  loadSettings,
  Publisher,
  provision,
  Readiness,
} from '@kvflow/common';
import { buildApi } from './api/build-api.js';
import { monitorBacklog } from './backlog-monitor.js';
import { producerSettings } from './config.js';
import { createProducerMetrics, publisherMetrics } from './metrics.js';
import { RateGenerator } from './rate-generator.js';

const config = loadSettings(producerSettings, 'kvflow-producer');
const log = createLogger('producer', config.connection.logLevel);

async function main(): Promise<void> {
  const registry = createRegistry();
  const metrics = createProducerMetrics(registry);
  const readiness = new Readiness(['nats', 'redis']);
  const nc = await connectNats(config.connection, log, `kvflow-producer-${process.pid}`, {
    retryForever: true,
  });
  readiness.set('nats', true);
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') readiness.set('nats', false);
      if (s.type === 'reconnect') readiness.set('nats', true);
    }
  })();
  const redis = await connectRedis(config.connection, log, `kvflow-producer-${process.pid}`, {
    retryForever: true,
  });
  readiness.set('redis', true);
  redis.on('ready', () => readiness.set('redis', true));
  redis.on('close', () => readiness.set('redis', false));
  if (config.provision) log.info(await provision(nc, config.stream), 'stream and consumer provisioned');

  const publisher = new Publisher(
    nc,
    { subject: config.stream.subject, ...config.publish },
    publisherMetrics(metrics),
  );
  const generator = new RateGenerator(config.generator, publisher, log, metrics);
  const stopBacklog = monitorBacklog(nc, config.stream, config.backlogPollMs, metrics, log);
  const app = await buildApi({
    publisher,
    redis,
    registry,
    readiness,
    apiToken: config.apiToken,
    valueMaxBytes: config.stream.valueMaxBytes,
    generator,
  });
  await app.listen({ host: config.httpHost, port: config.httpPort }).catch((err: Error) => {
    throw new Error(`cannot listen on ${config.httpHost}:${config.httpPort}: ${err.message}`, { cause: err });
  });
  log.info({ url: `http://${config.httpHost}:${config.httpPort}`, docs: '/docs' }, 'API listening');
  generator.start();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, inFlight: publisher.pending }, 'shutting down');
    generator.stop();
    stopBacklog();
    await app.close();
    await nc.drain();
    await redis.quit().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: Error) => {
  log.fatal({ err: err.message }, 'producer failed to start');
  process.exit(1);
});
