import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats, createLogger, type NatsConnection, Publisher, provision } from '@kvflow/common';
import { type NatsServer, type RedisServer, startNats, startRedis, waitUntil } from '@kvflow/stack';
import {
  connectionFor,
  consumerLag,
  mapLimit,
  randomEvent,
  scrapeMetric,
  serviceEnv,
  settingsFor,
} from '@kvflow/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PoolEvent, WorkerPool } from '../demo/src/scaling/worker-pool.js';

let nats: NatsServer;
let redis: RedisServer;
let nc: NatsConnection;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  const env = serviceEnv(nats, redis);
  nc = await connectNats(connectionFor(env), createLogger('pool-test', 'silent'), 'pool-test');
  await provision(nc, settingsFor(env));
});
afterAll(async () => {
  await nc?.close();
  await Promise.all([nats?.stop(), redis?.stop()]);
});

const EVENTS = 3_000;

/** Events a worker says (on /metrics) it consumed: every outcome. */
async function consumed(port: number): Promise<number> {
  let n = 0;
  for (const outcome of ['applied', 'stale', 'dead_lettered'])
    n += await scrapeMetric(port, `kvflow_events_applied_total{outcome="${outcome}"}`);
  return n;
}

describe('worker pool (real worker processes)', () => {
  it('scales up, restarts a crashed worker, drains with SIGTERM on scale-down, and sums the totals each reports', async () => {
    const events: PoolEvent[] = [];
    const consumedBy = new Map<string, number>();
    const pool = new WorkerPool({
      env: { ...serviceEnv(nats, redis), PROVISION: 'false' },
      logDir: mkdtempSync(join(tmpdir(), 'kvflow-pool-')),
      graceMs: 10_000,
      onEvent: (e) => events.push(e),
    });
    try {
      await pool.scaleTo(2);
      expect(pool.current).toBe(2);
      await waitUntil(
        'two ready workers',
        () => pool.snapshot().filter((w) => w.state === 'ready').length === 2,
      );

      const victim = pool.snapshot()[0];
      victim?.process.child.kill('SIGKILL');
      await waitUntil(
        'the crashed worker restarted and ready',
        () => victim?.restarts === 1 && victim.state === 'ready',
      );
      expect(events).toContainEqual(expect.objectContaining({ kind: 'crashed', worker: victim?.name }));
      expect(pool.current).toBe(2);

      // Work for both workers, so the totals they report on exit are not all zero.
      const settings = settingsFor(serviceEnv(nats, redis));
      const publisher = new Publisher(nc, {
        subject: settings.subject,
        maxInFlight: 256,
        timeoutMs: 5_000,
        retries: 2,
      });
      await mapLimit(
        Array.from({ length: EVENTS }, () => randomEvent(200)),
        256,
        (e) => publisher.publish(e),
      );
      await waitUntil('workers consumed every event', async () => {
        const lag = await consumerLag(nc, settings);
        return lag.pending === 0 && lag.ackPending === 0;
      });
      for (const w of pool.snapshot()) consumedBy.set(w.name, await consumed(w.metricsPort));
      expect([...consumedBy.values()].reduce((a, b) => a + b, 0)).toBe(EVENTS);

      await pool.scaleTo(1);
      expect(pool.current).toBe(1); // a terminating worker no longer counts
      await waitUntil('one worker left', () => pool.snapshot().length === 1);
      // Scale-down removes the newest ready worker, and it exits 0 after draining (no SIGKILL).
      expect(events).toContainEqual({ kind: 'stopped', worker: 'worker-2', detail: 'exit 0' });
      expect(events.some((e) => e.kind === 'killed')).toBe(false);
    } finally {
      await pool.stopAll();
    }
    expect(pool.snapshot()).toHaveLength(0);
    const stopped = events.filter((e) => e.kind === 'stopped').map((e) => e.worker);
    expect(stopped.sort()).toEqual(['worker-1', 'worker-2']);
    // Every worker that drained reported its totals over IPC (the SIGKILLed process could not), and each report
    // says what that worker's metrics said it consumed.
    expect(pool.reports.map((r) => r.worker).sort()).toEqual(stopped);
    for (const r of pool.reports) expect(r.totals.events, r.worker).toBe(consumedBy.get(r.worker));
    expect(pool.exitedTotals.events).toBe(EVENTS);
    expect(pool.exitedTotals.applied + pool.exitedTotals.stale).toBe(EVENTS);
    expect(pool.exitedTotals.deadLettered).toBe(0);
  });

  it('escalates to SIGKILL only when a worker outlives the grace period', async () => {
    const events: PoolEvent[] = [];
    // A 500 ms "termination grace" shorter than the worker's 2 s pull: the pool must kill it.
    const pool = new WorkerPool({
      env: { ...serviceEnv(nats, redis), PROVISION: 'false', PULL_EXPIRES_MS: '5000' },
      logDir: mkdtempSync(join(tmpdir(), 'kvflow-pool-')),
      graceMs: 500,
      onEvent: (e) => events.push(e),
    });
    await pool.scaleTo(1);
    await waitUntil('ready', () => pool.snapshot()[0]?.state === 'ready');
    await pool.stopAll();
    expect(events).toContainEqual(expect.objectContaining({ kind: 'killed', worker: 'worker-1' }));
    expect(pool.reports).toEqual([]); // killed before it drained: nothing to report
  });
});
