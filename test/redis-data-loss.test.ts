import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KvEvent, Publisher, provision, readAll } from '@kvflow/common';
import {
  consumerLag,
  freePort,
  httpReady,
  mapLimit,
  modelState,
  randomEvent,
  scrapeMetric,
  serviceEnv,
  settingsFor,
  spawnService,
  startRedisServer,
  waitUntil,
} from '@kvflow/testkit';
import { useServers } from '@kvflow/testkit/vitest';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';

const ctx = useServers();

describe('self-healing after Redis data loss', () => {
  it('notices that a restarted Redis lost acknowledged writes and replays them from the stream by itself', async () => {
    const env = serviceEnv(ctx.nats, ctx.redis, {
      STREAM_NAME: 'LOSS',
      STREAM_SUBJECT: 'loss.events',
      DLQ_STREAM_NAME: 'LOSS_DLQ',
      DLQ_SUBJECT: 'loss.dlq',
      WATERMARK_INTERVAL_MS: '200',
      NAK_BASE_DELAY_MS: '100',
    });
    const settings = settingsFor(env);
    await provision(ctx.nc, settings);
    const port = await freePort();
    const worker = spawnService('consumer/dist/main.js', { ...env, METRICS_PORT: String(port) });
    ctx.services.push(worker);
    await waitUntil('worker ready', () => httpReady(port));

    const publisher = new Publisher(ctx.nc, {
      subject: settings.subject,
      maxInFlight: 256,
      timeoutMs: 5000,
      retries: 2,
    });
    const bySeq = new Map<number, KvEvent>();
    const publish = (n: number) =>
      mapLimit(
        Array.from({ length: n }, () => randomEvent(500)),
        256,
        async (e) => bySeq.set((await publisher.publish(e)).seq, e),
      );
    const redis = new Redis(ctx.redis.url, { lazyConnect: true });
    const caughtUp = async () => {
      const lag = await consumerLag(ctx.nc, settings);
      return lag.pending === 0 && lag.ackPending === 0;
    };
    const stateMatches = async () => {
      const actual = await readAll(redis).catch(() => null);
      return (
        actual !== null &&
        JSON.stringify([...actual].sort()) === JSON.stringify([...modelState(bySeq)].sort())
      );
    };
    try {
      await publish(4_000);
      await waitUntil('first events applied', caughtUp);
      await redis.connect();
      await waitUntil('redis = model', stateMatches, 10_000);
      expect(await scrapeMetric(port, 'kvflow_redis_data_loss_repairs_total')).toBe(0); // no false alarm
      await new Promise((r) => setTimeout(r, 600)); // the watermark follows the ack floor

      // A restart without persistence: everything acknowledged so far is gone, and nothing else notices (lag 0).
      redis.disconnect();
      await ctx.redis.stop();
      await ctx.redis.start();
      await redis.connect();
      expect((await readAll(redis)).size).toBe(0);
      await publish(1_000); // and the pipeline keeps going meanwhile

      await waitUntil('kvflow repaired redis by itself', stateMatches, 30_000);
      await waitUntil('caught up', caughtUp);
      expect(await stateMatches()).toBe(true);
      expect(await scrapeMetric(port, 'kvflow_redis_data_loss_repairs_total')).toBe(1);
      expect(await scrapeMetric(port, 'kvflow_redis_repaired_events_total')).toBeGreaterThan(0);
      expect(worker.output()).toContain('redis lost acknowledged writes; repaired them from the stream');
    } finally {
      redis.disconnect();
    }
  });

  it('repairs the writes an OS crash took with the unsynced AOF tail', async () => {
    // A Redis of its own with an append-only file, so a tail of it can be cut as an OS crash would.
    const dataDir = mkdtempSync(join(tmpdir(), 'kvflow-aof-'));
    const aofRedis = await startRedisServer({ port: await freePort(), dataDir });
    const env = serviceEnv(ctx.nats, aofRedis, {
      STREAM_NAME: 'AOF',
      STREAM_SUBJECT: 'aof.events',
      DLQ_STREAM_NAME: 'AOF_DLQ',
      DLQ_SUBJECT: 'aof.dlq',
      WATERMARK_INTERVAL_MS: '200',
      NAK_BASE_DELAY_MS: '100',
    });
    const settings = settingsFor(env);
    await provision(ctx.nc, settings);
    const port = await freePort();
    const worker = spawnService('consumer/dist/main.js', { ...env, METRICS_PORT: String(port) });
    ctx.services.push(worker);
    const redis = new Redis(aofRedis.url, { lazyConnect: true });
    try {
      await waitUntil('worker ready', () => httpReady(port));
      const publisher = new Publisher(ctx.nc, {
        subject: settings.subject,
        maxInFlight: 256,
        timeoutMs: 5000,
        retries: 2,
      });
      const bySeq = new Map<number, KvEvent>();
      for (const e of Array.from({ length: 4_000 }, () => randomEvent(500)))
        bySeq.set((await publisher.publish(e)).seq, e);
      await waitUntil('applied', async () => {
        const lag = await consumerLag(ctx.nc, settings);
        return lag.pending === 0 && lag.ackPending === 0;
      });
      await new Promise((r) => setTimeout(r, 600)); // the watermark follows the ack floor

      // The crash: the process stops and the last third of the append-only file never reached the disk.
      await aofRedis.stop();
      const dir = join(dataDir, 'appendonlydir');
      const incr = readdirSync(dir).find((f) => f.endsWith('.incr.aof')) as string;
      const size = statSync(join(dir, incr)).size;
      truncateSync(join(dir, incr), Math.floor((size * 2) / 3));
      await aofRedis.start();
      await redis.connect();
      const model = modelState(bySeq);
      const survived = await readAll(redis);
      expect(JSON.stringify([...survived].sort())).not.toBe(JSON.stringify([...model].sort())); // writes were lost

      await waitUntil(
        'kvflow repaired the lost tail by itself',
        async () => JSON.stringify([...(await readAll(redis))].sort()) === JSON.stringify([...model].sort()),
        30_000,
      );
      expect(await scrapeMetric(port, 'kvflow_redis_data_loss_repairs_total')).toBe(1);
      expect(worker.output()).toContain('redis lost acknowledged writes; repaired them from the stream');
    } finally {
      redis.disconnect();
      worker.child.kill('SIGKILL');
      await worker.exited;
      await aofRedis.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
