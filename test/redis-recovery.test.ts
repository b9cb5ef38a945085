import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type DeadLetter, listDeadLetters, provision, readAll } from '@kvflow/common';
import {
  freePort,
  httpReady,
  type ServerProcess,
  type ServiceProcess,
  startRedisServer,
  waitUntil,
} from '@kvflow/stack';
import {
  consumerLag,
  modelState,
  recordingPublisher,
  scrapeMetric,
  serviceEnv,
  settingsFor,
  spawnService,
  streamNames,
} from '@kvflow/testkit';
import { useServers } from '@kvflow/testkit/vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * A Redis outage while worker processes with several apply loops work through a backlog. Every loop that is
 * applying a batch sees the outage; the worker must still run ONE recovery (pause, hand back, ping, resume), so no
 * loop resumes pulling while another is still handing events back, and no event burns its deliveries.
 */

const ctx = useServers();
const BACKLOG = 6_000;
const DURING_OUTAGE = 1_000;
const WORKERS = 2;
const MAX_DELIVER = 3;
const RESUMED = 'redis is back; resuming pulls';

let redisServer: ServerProcess | undefined;
let dataDir: string | undefined;
let workers: ServiceProcess[] = [];

afterEach(async () => {
  for (const w of workers) w.child.kill('SIGKILL');
  workers = [];
  await redisServer?.stop();
  redisServer = undefined;
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

/** The worker's JSON log lines with this message. */
function logLines(w: ServiceProcess, msg: string): number {
  return w
    .output()
    .split('\n')
    .filter((l) => {
      try {
        return (JSON.parse(l) as { msg?: string }).msg === msg;
      } catch {
        return false;
      }
    }).length;
}

describe('Redis outage with several apply loops per worker', () => {
  it.each([2, 4])(
    'APPLY_CONCURRENCY=%i: one recovery per worker, no burnt deliveries, state equals the stream model',
    async (concurrency) => {
      // A Redis that keeps its data across the restart (append-only file), so the whole state can be compared.
      dataDir = mkdtempSync(join(tmpdir(), 'kvflow-redis-'));
      redisServer = await startRedisServer({ port: await freePort(), dataDir });
      const name = `RECOVER${concurrency}`;
      const env = serviceEnv(ctx.nats, redisServer, {
        ...streamNames(name),
        PROVISION: 'false',
        LOG_LEVEL: 'info', // the recovery's "redis is back" line is info
        APPLY_CONCURRENCY: String(concurrency),
        BATCH_SIZE: '64',
        MAX_DELIVER: String(MAX_DELIVER),
        NAK_BASE_DELAY_MS: '50',
        NAK_MAX_DELAY_MS: '200',
        PULL_EXPIRES_MS: '1000',
        REDIS_COMMAND_TIMEOUT_MS: '1000',
        // Slow enough that the backlog is still there when Redis goes away.
        MAX_EVENTS_PER_SEC: '1000',
      });
      const settings = settingsFor(env);
      await provision(ctx.nc, settings);

      const { bySeq, publish } = recordingPublisher(ctx.nc, settings, { keySpace: 500, inFlight: 256 });
      await publish(BACKLOG);

      const ports = await Promise.all(Array.from({ length: WORKERS }, () => freePort()));
      workers = ports.map((port) =>
        spawnService('consumer/dist/main.js', {
          ...env,
          METRICS_PORT: String(port),
          METRICS_HOST: '127.0.0.1',
        }),
      );
      ctx.services.push(...workers);
      await waitUntil('workers ready', async () => (await Promise.all(ports.map(httpReady))).every(Boolean));
      const applied = (port: number) => scrapeMetric(port, 'kvflow_events_applied_total{outcome="applied"}');
      await waitUntil(
        'every worker applying the backlog',
        async () => (await Promise.all(ports.map(applied))).every((n) => n > 0),
        20_000,
      );
      expect((await consumerLag(ctx.nc, settings)).pending).toBeGreaterThan(BACKLOG / 3);

      // The outage: every worker is in the middle of the backlog, each apply loop with a batch in hand.
      await redisServer.stop();
      await publish(DURING_OUTAGE);
      await waitUntil(
        'every worker paused',
        async () =>
          (await Promise.all(ports.map((p) => scrapeMetric(p, 'kvflow_worker_paused')))).every(
            (v) => v === 1,
          ),
        15_000,
      );
      // Down for many nak delays: a worker that kept pulling (or resumed early) would exhaust MAX_DELIVER.
      await sleep(3_000);
      await redisServer.start();

      await waitUntil(
        'backlog applied after the outage',
        async () => {
          const lag = await consumerLag(ctx.nc, settings);
          return lag.pending === 0 && lag.ackPending === 0;
        },
        60_000,
      );
      // Give a late second recovery (the defect) time to show in the logs.
      await sleep(1_000);

      for (const [i, w] of workers.entries()) {
        expect.soft(logLines(w, RESUMED), `worker ${i}: recoveries for one outage`).toBe(1);
        expect(await scrapeMetric(ports[i] as number, 'kvflow_worker_paused')).toBe(0);
        expect(await scrapeMetric(ports[i] as number, 'kvflow_transient_failures_total')).toBeGreaterThan(0);
      }

      const letters: DeadLetter[] = [];
      for await (const l of listDeadLetters(await jetstreamManager(ctx.nc), settings)) letters.push(l);
      expect(letters, 'dead letters (max deliveries reached)').toEqual([]);

      const redis = new Redis(redisServer.url);
      try {
        const state = await readAll(redis);
        const expected = modelState(bySeq);
        expect(bySeq.size).toBe(BACKLOG + DURING_OUTAGE);
        expect(state.size).toBe(expected.size);
        expect(state).toEqual(expected);
      } finally {
        redis.disconnect();
      }

      // And they still drain cleanly.
      const exits = await Promise.all(
        workers.map((w) => {
          w.child.kill('SIGTERM');
          return Promise.race([w.exited, sleep(15_000).then(() => ({ code: 'timeout', signal: null }))]);
        }),
      );
      expect(exits.map((e) => e.code)).toEqual(workers.map(() => 0));
    },
    120_000,
  );
});
