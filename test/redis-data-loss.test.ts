import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KvEvent, provision, readAll } from '@kvflow/common';
import { freePort, startRedisServer, waitUntil } from '@kvflow/stack';
import {
  caughtUp,
  modelState,
  recordingPublisher,
  scrapeMetric,
  serviceEnv,
  settingsFor,
  startWorkerProcess,
  streamNames,
} from '@kvflow/testkit';
import { useServers } from '@kvflow/testkit/vitest';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';

const ctx = useServers();

/** True when Redis holds exactly the state the recorded stream implies (null when Redis cannot be read). */
async function sameAsModel(redis: Redis, bySeq: Map<number, KvEvent>): Promise<boolean> {
  const actual = await readAll(redis).catch(() => null);
  return (
    actual !== null && JSON.stringify([...actual].sort()) === JSON.stringify([...modelState(bySeq)].sort())
  );
}

/** A stream of its own, provisioned, with one worker that keeps its watermark 200 ms behind the ack floor. */
async function pipeline(name: string, redisUrl: string) {
  const env = serviceEnv(
    ctx.nats,
    { url: redisUrl },
    {
      ...streamNames(name),
      WATERMARK_INTERVAL_MS: '200',
      NAK_BASE_DELAY_MS: '100',
    },
  );
  const settings = settingsFor(env);
  await provision(ctx.nc, settings);
  const worker = await startWorkerProcess(env, ctx.services);
  return { settings, worker, writes: recordingPublisher(ctx.nc, settings, { keySpace: 500, inFlight: 256 }) };
}

/**
 * The repair counts itself after it has written the repaired events and recorded the check (two more Redis round
 * trips): Redis can equal the model a moment before the counter moves. Exactly one repair, once it is counted.
 */
async function untilRepairCounted(port: number): Promise<void> {
  const repairs = () => scrapeMetric(port, 'kvflow_redis_data_loss_repairs_total');
  await waitUntil('the repair counted', async () => (await repairs()) >= 1, 10_000);
  expect(await repairs()).toBe(1);
}

describe('self-healing after Redis data loss', () => {
  it('notices that a restarted Redis lost acknowledged writes and replays them from the stream by itself', async () => {
    const { settings, worker, writes } = await pipeline('LOSS', ctx.redis.url);
    const redis = new Redis(ctx.redis.url, { lazyConnect: true });
    try {
      await writes.publish(4_000);
      await waitUntil('first events applied', () => caughtUp(ctx.nc, settings));
      await redis.connect();
      await waitUntil('redis = model', () => sameAsModel(redis, writes.bySeq), 10_000);
      expect(await scrapeMetric(worker.port, 'kvflow_redis_data_loss_repairs_total')).toBe(0); // no false alarm
      await new Promise((r) => setTimeout(r, 600)); // the watermark follows the ack floor

      // A restart without persistence: everything acknowledged so far is gone, and nothing else notices (lag 0).
      redis.disconnect();
      await ctx.redis.stop();
      await ctx.redis.start();
      await redis.connect();
      expect((await readAll(redis)).size).toBe(0);
      await writes.publish(1_000); // and the pipeline keeps going meanwhile

      await waitUntil('kvflow repaired redis by itself', () => sameAsModel(redis, writes.bySeq), 30_000);
      await waitUntil('caught up', () => caughtUp(ctx.nc, settings));
      expect(await sameAsModel(redis, writes.bySeq)).toBe(true);
      await untilRepairCounted(worker.port);
      expect(await scrapeMetric(worker.port, 'kvflow_redis_repaired_events_total')).toBeGreaterThan(0);
      expect(worker.service.output()).toContain(
        'redis lost acknowledged writes; repaired them from the stream',
      );
    } finally {
      redis.disconnect();
    }
  });

  it('repairs the writes an OS crash took with the unsynced AOF tail', async () => {
    // A Redis of its own with an append-only file, so a tail of it can be cut as an OS crash would.
    const dataDir = mkdtempSync(join(tmpdir(), 'kvflow-aof-'));
    const aofRedis = await startRedisServer({ port: await freePort(), dataDir });
    const redis = new Redis(aofRedis.url, { lazyConnect: true });
    try {
      const { settings, worker, writes } = await pipeline('AOF', aofRedis.url);
      await writes.publish(4_000);
      await waitUntil('applied', () => caughtUp(ctx.nc, settings));
      await new Promise((r) => setTimeout(r, 600)); // the watermark follows the ack floor

      // The crash: the process stops and the last third of the append-only file never reached the disk.
      await aofRedis.stop();
      const dir = join(dataDir, 'appendonlydir');
      const incr = readdirSync(dir).find((f) => f.endsWith('.incr.aof')) as string;
      const size = statSync(join(dir, incr)).size;
      truncateSync(join(dir, incr), Math.floor((size * 2) / 3));
      await aofRedis.start();
      await redis.connect();
      expect(await sameAsModel(redis, writes.bySeq)).toBe(false); // writes were lost

      await waitUntil(
        'kvflow repaired the lost tail by itself',
        () => sameAsModel(redis, writes.bySeq),
        30_000,
      );
      await untilRepairCounted(worker.port);
      expect(worker.service.output()).toContain(
        'redis lost acknowledged writes; repaired them from the stream',
      );
      worker.service.child.kill('SIGKILL');
      await worker.service.exited;
    } finally {
      redis.disconnect();
      await aofRedis.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
