import { freePort, waitUntil } from '@kvflow/stack';
import { spawnService } from '@kvflow/testkit';
import { describe, expect, it } from 'vitest';

describe('start-up configuration errors', () => {
  it.each([
    ['producer/dist/main.js', { RATE: 'lots', HTTP_PORT: '99999' }, ['RATE="lots"', 'HTTP_PORT="99999"']],
    [
      'consumer/dist/main.js',
      { BATCH_SIZE: '0' },
      ['BATCH_SIZE="0" is invalid: expected an integer from 1 to 10000'],
    ],
  ])('%s exits with code 2 and names each bad variable', async (entry, env, messages) => {
    const svc = spawnService(entry, { PATH: process.env.PATH ?? '', ...env });
    const { code } = await svc.exited;
    expect(code).toBe(2);
    for (const m of messages) expect(svc.output()).toContain(m);
    expect(svc.output()).toContain('See .env.example');
  });

  it('keeps retrying, not ready, and says why when NATS cannot be reached', async () => {
    const port = await freePort();
    const svc = spawnService('consumer/dist/main.js', {
      PATH: process.env.PATH ?? '',
      NATS_URL: 'nats://127.0.0.1:1',
      METRICS_PORT: String(port),
    });
    try {
      await waitUntil('a logged connection failure', () =>
        svc.output().includes('cannot connect to NATS at nats://127.0.0.1:1'),
      );
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({
        ready: false,
        checks: { nats: false, redis: false, consumer: false },
      });
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect(svc.child.exitCode).toBeNull();
    } finally {
      svc.child.kill('SIGKILL');
    }
  });
});
