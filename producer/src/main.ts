#!/usr/bin/env node
import {
  connectNats,
  connectRedis,
  createLogger,
  createRegistry,
  loadSettings,
  type NatsConnection,
  Publisher,
  packageVersion,
  provision,
  Readiness,
  type Redis,
  readConsumerLag,
  startTracing,
} from '@kvflow/common';
import { buildApi } from './api/build-api.js';
import { monitorBacklog } from './backlog-monitor.js';
import { createProducerMetrics, publisherMetrics } from './metrics.js';
import { followRateConfigMap } from './rate-configmap-follow.js';
import { RateGenerator } from './rate-generator.js';
import { producerSettings } from './settings.js';

const settings = loadSettings(producerSettings, 'kvflow-producer');
const log = createLogger('producer', settings.connection.logLevel);
const name = `kvflow-producer-${process.pid}`;
const tracing = startTracing(settings.tracing, packageVersion(import.meta.url));
if (tracing)
  log.info({ endpoint: settings.tracing.tracesUrl, sampler: settings.tracing.sampler }, 'tracing on');

/**
 * The producer serves HTTP first and connects afterwards: `/healthz` answers at once (a liveness probe must not
 * fail because NATS is slow to come up), `/readyz` reports each dependency, writes answer 503 until NATS is
 * connected and the stream provisioned, reads 503 until Redis is connected. NATS and Redis connect
 * independently, each retrying until it succeeds.
 */
async function main(): Promise<void> {
  const registry = createRegistry({ openMetrics: tracing !== undefined });
  const metrics = createProducerMetrics(registry, () => publisher?.pending ?? 0);
  const readiness = new Readiness(['nats', 'redis']);
  let nc: NatsConnection | undefined;
  let publisher: Publisher | undefined;
  let redis: Redis | undefined;
  let stopBacklog: () => void = () => undefined;
  const generator = new RateGenerator(settings.generator, () => publisher, log, metrics);

  const app = await buildApi({
    publisher: () => publisher,
    redis: () => redis,
    registry,
    readiness,
    apiToken: settings.apiToken,
    apiTokenReads: settings.apiTokenReads,
    valueMaxBytes: settings.stream.valueMaxBytes,
    log,
    generator,
    tracing,
    consumerLag: () =>
      nc ? readConsumerLag(nc, settings.stream) : Promise.reject(new Error('NATS is not connected yet')),
  });
  await app.listen({ host: settings.httpHost, port: settings.httpPort }).catch((err: Error) => {
    throw new Error(`cannot listen on ${settings.httpHost}:${settings.httpPort}: ${err.message}`, {
      cause: err,
    });
  });
  log.info({ url: `http://${settings.httpHost}:${settings.httpPort}`, docs: '/docs' }, 'API listening');

  // In Kubernetes (RATE_CONFIGMAP): the rate follows its ConfigMap live. Not a readiness condition: while the
  // watch reconnects the producer keeps its current rate (kvflow_rate_config_watch_up says so).
  const rateConfig =
    settings.rateConfigMap &&
    followRateConfigMap({
      settings: settings.rateConfigMap,
      generator,
      initial: settings.generator,
      registry,
      log,
    });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, inFlight: publisher?.pending ?? 0 }, 'shutting down');
    generator.stop();
    await rateConfig?.stop();
    stopBacklog();
    await app.close();
    await nc?.drain().catch(() => undefined);
    publisher?.close();
    await redis?.quit().catch(() => undefined);
    await tracing?.shutdown().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  const connectingNats = (async () => {
    const conn = await connectNats(settings.connection, log, name, { retryForever: true });
    nc = conn;
    if (settings.provision)
      log.info(await provision(conn, settings.stream), 'stream and consumer provisioned');
    publisher = new Publisher(
      conn,
      { subject: settings.stream.subject, ...settings.publish, tracing },
      publisherMetrics(metrics),
    );
    readiness.set('nats', true);
    void (async () => {
      for await (const s of conn.status()) {
        if (s.type === 'disconnect') readiness.set('nats', false);
        if (s.type === 'reconnect') readiness.set('nats', true);
      }
    })();
    stopBacklog = monitorBacklog(conn, settings.stream, settings.backlogPollMs, metrics, log);
    if (!stopping) generator.start();
  })();
  const connectingRedis = (async () => {
    const client = await connectRedis(settings.connection, log, name, { retryForever: true });
    client.on('ready', () => readiness.set('redis', true));
    client.on('close', () => readiness.set('redis', false));
    redis = client;
    readiness.set('redis', true);
  })();
  await Promise.all([connectingNats, connectingRedis]);
}

main().catch((err: Error) => {
  log.fatal({ err: err.message }, 'producer failed to start');
  process.exit(1);
});
