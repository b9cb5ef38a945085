import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  type NatsProcess,
  type ServerProcess,
  startNatsServer,
  startRedisServer,
  waitUntil,
} from '@kvflow/stack';
import { spawnService } from '@kvflow/testkit';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The producer serves HTTP at once, before NATS and Redis are reachable: liveness is never held hostage by a
 * dependency (Kubernetes would restart the pod), readiness says what is missing, and writes and reads answer
 * 503 with Retry-After until their dependency is connected.
 */

let nats: NatsProcess | undefined;
let redis: ServerProcess | undefined;
const storeDir = mkdtempSync(join(tmpdir(), 'kvflow-startup-'));
afterAll(async () => {
  await Promise.all([nats?.stop(), redis?.stop()]);
  rmSync(storeDir, { recursive: true, force: true });
});

async function request(url: string, init?: RequestInit) {
  const res = await fetch(url, init).catch(() => null);
  return (
    res && { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> }
  );
}

describe('producer start-up before its dependencies', () => {
  it('answers /healthz at once, /readyz and writes/reads 503 until NATS and Redis connect', async () => {
    const [natsPort, monitorPort, redisPort, httpPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const svc = spawnService('producer/dist/main.js', {
      PATH: process.env.PATH ?? '',
      NATS_URL: `nats://127.0.0.1:${natsPort}`,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(httpPort),
      BACKLOG_POLL_MS: '0',
      LOG_LEVEL: 'warn',
    });
    const base = `http://127.0.0.1:${httpPort}`;
    const put = () =>
      request(`${base}/keys/startup`, {
        method: 'PUT',
        headers: { 'content-type': 'text/plain' },
        body: 'v',
      });
    try {
      await waitUntil(
        '/healthz answering',
        async () => (await request(`${base}/healthz`))?.status === 200,
        3_000,
      );

      const ready = await request(`${base}/readyz`);
      expect(ready?.status).toBe(503);
      expect(ready?.body).toEqual({ ready: false, checks: { nats: false, redis: false } });
      const write = await put();
      expect(write?.status).toBe(503);
      expect(write?.body.error).toBe('unavailable');
      expect(write?.headers.get('retry-after')).toMatch(/^\d+$/);
      const read = await request(`${base}/keys/startup`);
      expect(read?.status).toBe(503);
      expect(read?.body.error).toBe('unavailable');
      expect(read?.headers.get('retry-after')).toMatch(/^\d+$/);

      redis = await startRedisServer({ port: redisPort });
      await waitUntil(
        'reads served',
        async () => (await request(`${base}/keys/startup`))?.status === 404,
        20_000,
      );
      expect((await request(`${base}/readyz`))?.body).toEqual({
        ready: false,
        checks: { nats: false, redis: true },
      });
      expect((await put())?.status).toBe(503);

      nats = await startNatsServer({ port: natsPort, monitorPort, storeDir });
      await waitUntil('ready', async () => (await request(`${base}/readyz`))?.status === 200, 20_000);
      const accepted = await put();
      expect(accepted?.status).toBe(202);
      expect(accepted?.body.seq).toBe(1);
      expect(svc.child.exitCode).toBeNull();
    } finally {
      svc.child.kill('SIGKILL');
    }
  });
});
