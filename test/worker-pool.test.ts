import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats, createLogger, type NatsConnection, provision } from '@kvflow/common';
import {
  connectionFor,
  type NatsServer,
  type RedisServer,
  serviceEnv,
  settingsFor,
  startNats,
  startRedis,
  waitUntil,
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

describe('worker pool (real worker processes)', () => {
  it('scales up, restarts a crashed worker, and drains with SIGTERM on scale-down', async () => {
    const events: PoolEvent[] = [];
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
    expect(pool.exitedTotals.events).toBe(0); // nothing was published: totals were reported, all zero
    expect(events.filter((e) => e.kind === 'stopped')).toHaveLength(2);
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
  });
});
