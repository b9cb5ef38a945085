import { type KvEvent, Publisher, provision, readAll } from '@kvflow/common';
import { freePort, httpReady, waitUntil } from '@kvflow/stack';
import {
  consumerLag,
  mapLimit,
  modelState,
  randomEvent,
  scrapeMetric,
  serviceEnv,
  settingsFor,
  spawnService,
} from '@kvflow/testkit';
import { useServers } from '@kvflow/testkit/vitest';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';

const ctx = useServers();
let redis: Redis;

afterAll(() => redis?.disconnect());

const appliedSoFar = (port: number) => scrapeMetric(port, 'kvflow_events_applied_total{outcome="applied"}');

describe('SIGTERM drain', () => {
  it('acks everything in flight, exits 0 within the grace period, and nothing is redelivered after restart', async () => {
    // A slow worker (simulated work) so that SIGTERM lands while a batch is in flight. A short ack_wait makes any
    // event left unacknowledged come back within the test, where the next worker would count it as redelivered.
    const env = serviceEnv(ctx.nats, ctx.redis, {
      ACK_WAIT_MS: '3000',
      PROVISION: 'false',
      WORK_MS: '2',
      SHUTDOWN_GRACE_MS: '10000',
    });
    const settings = settingsFor(env);
    redis = new Redis(ctx.redis.url);
    await provision(ctx.nc, settings);

    const publisher = new Publisher(ctx.nc, {
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
    ctx.services.push(first);
    await waitUntil(
      'first worker applying',
      async () => (await httpReady(port)) && (await appliedSoFar(port)) > 500,
    );
    const before = await consumerLag(ctx.nc, settings);
    expect(before.ackPending).toBeGreaterThan(0); // SIGTERM really lands mid-batch
    const sentAt = Date.now();
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    expect(exit.code).toBe(0);
    expect(Date.now() - sentAt).toBeLessThan(10_000);
    expect(first.output()).not.toContain('grace period exceeded');

    const afterStop = await consumerLag(ctx.nc, settings);
    expect(afterStop.ackPending).toBe(0);
    expect(afterStop.pending).toBeGreaterThan(0); // the rest waits for the next worker

    const secondPort = await freePort();
    const second = spawnService('consumer/dist/main.js', {
      ...env,
      WORK_MS: '0',
      // One apply loop: with several, a later batch may reach a key first and make an earlier event stale (harmless,
      // fenced), which would hide the stale count that an event applied twice makes.
      APPLY_CONCURRENCY: '1',
      METRICS_PORT: String(secondPort),
    });
    ctx.services.push(second);
    await waitUntil('second worker drained the backlog', async () => {
      const lag = await consumerLag(ctx.nc, settings);
      return lag.pending === 0 && lag.ackPending === 0;
    });
    // Wait out one ack_wait: anything the first worker failed to ack would have come back to the second by now.
    // (JetStream's num_redelivered counts only unacknowledged redeliveries, so the worker's own counter is used.)
    await new Promise((r) => setTimeout(r, 3_500));
    expect(await consumerLag(ctx.nc, settings)).toMatchObject({ pending: 0, ackPending: 0 });
    expect(await scrapeMetric(secondPort, 'kvflow_redeliveries_total')).toBe(0);
    expect(await scrapeMetric(secondPort, 'kvflow_events_applied_total{outcome="stale"}')).toBe(0);
    expect(await readAll(redis)).toEqual(modelState(bySeq));
  });
});
