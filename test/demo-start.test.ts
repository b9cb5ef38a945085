import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, isListening, startNats, startRedis, waitUntil } from '@kvflow/stack';
import { spawnService } from '@kvflow/testkit';
import { afterAll, describe, expect, it } from 'vitest';

// `npm run demo` in its interactive mode, on ports of its own so it touches no server of the machine's.
async function demoEnv(extra: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'kvflow-demo-start-'));
  dirs.push(dataDir);
  return {
    PATH: process.env.PATH ?? '',
    LOG_LEVEL: 'warn',
    DATA_DIR: dataDir,
    NATS_PORT: String(await freePort()),
    NATS_MONITOR_PORT: String(await freePort()),
    REDIS_PORT: String(await freePort()),
    HTTP_PORT: String(await freePort()),
    SCALER_PORT: String(await freePort()),
    ...extra,
  };
}
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const listening = async (env: Record<string, string>, names: string[]) =>
  Object.fromEntries(await Promise.all(names.map(async (n) => [n, await isListening(Number(env[n]))])));

describe('npm run demo: a start that fails, fails fast and leaves nothing behind', () => {
  it('a taken HTTP_PORT is named with what to do, before anything is started', async () => {
    const blocker: Server = createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    try {
      const env = await demoEnv({ HTTP_PORT: String(port) });
      const t0 = Date.now();
      const demo = spawnService('demo/dist/demo.js', env);
      const { code } = await demo.exited;
      expect(code, demo.output()).toBe(1);
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(demo.output()).toContain(
        `demo: port ${port} (the producer's API) is in use: stop what listens there, or set HTTP_PORT=<another port>`,
      );
      expect(await listening(env, ['NATS_PORT', 'REDIS_PORT'])).toEqual({
        NATS_PORT: false,
        REDIS_PORT: false,
      });
    } finally {
      blocker.close();
    }
  });

  it('a producer that exits during start-up ends the start at once with its own error, and the servers are stopped', async () => {
    const env = await demoEnv({ KEY_SPACE: 'lots' });
    const t0 = Date.now();
    const demo = spawnService('demo/dist/demo.js', env);
    const { code } = await demo.exited;
    expect(code, demo.output()).toBe(1);
    expect(demo.output()).toContain(`started nats-server on :${env.NATS_PORT}`);
    expect(demo.output()).toMatch(
      /demo: the producer exited during start-up \(2\): .*KEY_SPACE="lots" is invalid: expected an integer/,
    );
    // Well inside the 20 s the readiness wait allows: it did not wait for it.
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(await listening(env, ['NATS_PORT', 'NATS_MONITOR_PORT', 'REDIS_PORT'])).toEqual({
      NATS_PORT: false,
      NATS_MONITOR_PORT: false,
      REDIS_PORT: false,
    });
  });

  it('servers it reuses are said to be left running, and are still running after Ctrl-C', async () => {
    const [nats, redis] = await Promise.all([startNats(), startRedis()]);
    try {
      const env = await demoEnv({
        NATS_PORT: String(nats.port),
        NATS_MONITOR_PORT: String(nats.monitorPort),
        REDIS_PORT: String(redis.port),
      });
      const demo = spawnService('demo/dist/demo.js', env);
      await waitUntil('the demo to be up', () => demo.output().includes('producer http://'), 30_000);
      demo.child.kill('SIGINT');
      const { code } = await demo.exited;
      expect(code, demo.output()).toBe(0);
      expect(demo.output()).toContain(`reusing the nats-server on :${nats.port}`);
      expect(demo.output()).toContain(
        `reusing the redis-server on :${redis.port}; not started here, so it is left running`,
      );
      expect(await listening(env, ['NATS_PORT', 'REDIS_PORT', 'HTTP_PORT'])).toEqual({
        NATS_PORT: true,
        REDIS_PORT: true,
        HTTP_PORT: false,
      });
    } finally {
      await Promise.all([nats.stop(), redis.stop()]);
    }
  });
});
