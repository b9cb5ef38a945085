import {
  connectNats,
  createLogger,
  type KvEvent,
  type NatsConnection,
  provision,
  readAll,
} from '@kvflow/common';
import { Publisher } from '@kvflow/producer';
import { jetstream } from '@nats-io/jetstream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapLimit, modelState, randomEvent } from './harness/model.js';
import { freePort, type NatsServer, type RedisServer, startNats, startRedis } from './harness/servers.js';
import {
  httpReady,
  type Service,
  scrapeMetric,
  serviceEnv,
  spawnService,
  waitUntil,
} from './harness/services.js';
import { connectionFor, consumerLag, settingsFor } from './harness/streams.js';

let nats: NatsServer;
let redisServer: RedisServer;
let nc: NatsConnection;
let redis: Redis;
const services: Service[] = [];

beforeAll(async () => {
  [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
});
afterAll(async () => {
  for (const s of services) s.child.kill('SIGKILL');
  await nc?.close();
  redis?.disconnect();
  await Promise.all([nats?.stop(), redisServer?.stop()]);
});

const appliedSoFar = (port: number) => scrapeMetric(port, 'kvflow_events_applied_total{outcome="applied"}');

describe('SIGTERM drain', () => {
  it('acks everything in flight, exits 0 within the grace period, and nothing is redelivered after restart', async () => {
    // A slow worker (simulated work) so that SIGTERM lands while a batch is in flight. A short ack_wait makes any
    // event left unacknowledged come back within the test, where the next worker would count it as redelivered.
    const env = serviceEnv(nats, redisServer, {
      ACK_WAIT_MS: '3000',
      PROVISION: 'false',
      WORK_MS: '2',
      SHUTDOWN_GRACE_MS: '10000',
    });
    const settings = settingsFor(env);
    nc = await connectNats(connectionFor(env), createLogger('drain-test', 'warn'), 'drain-test');
    redis = new Redis(redisServer.url);
    await provision(nc, settings);

    const publisher = new Publisher(nc, jetstream(nc), {
      subject: settings.subject,
      maxInFlight: 256,
      timeoutMs: 5000,
      retries: 3,
    });
    const bySeq = new Map<number, KvEvent>();
    await mapLimit(
      Array.from({ length: 3000 }, () => randomEvent(300)),
      256,
      async (e) => bySeq.set((await publisher.publish(e)).seq, e),
    );

    const port = await freePort();
    const first = spawnService('consumer/dist/main.js', { ...env, METRICS_PORT: String(port) });
    services.push(first);
    await waitUntil(
      'first worker applying',
      async () => (await httpReady(port)) && (await appliedSoFar(port)) > 500,
    );
    const before = await consumerLag(nc, settings);
    expect(before.ackPending).toBeGreaterThan(0); // SIGTERM really lands mid-batch
    const sentAt = Date.now();
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    expect(exit.code).toBe(0);
    expect(Date.now() - sentAt).toBeLessThan(10_000);
    expect(first.output()).not.toContain('grace period exceeded');

    const afterStop = await consumerLag(nc, settings);
    expect(afterStop.ackPending).toBe(0);
    expect(afterStop.pending).toBeGreaterThan(0); // the rest waits for the next worker

    const second = spawnService('consumer/dist/main.js', {
      ...env,
      WORK_MS: '0',
      METRICS_PORT: String(await freePort()),
    });
    services.push(second);
    await waitUntil('second worker drained the backlog', async () => {
      const lag = await consumerLag(nc, settings);
      return lag.pending === 0 && lag.ackPending === 0;
    });
    const final = await consumerLag(nc, settings);
    expect(final.redelivered).toBe(0);
    expect(await readAll(redis)).toEqual(modelState(bySeq));
  });
});
