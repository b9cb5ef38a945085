import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, ServerExitedError, startNatsServer } from '@kvflow/stack';
import { expect, it } from 'vitest';

it('a nats-server that cannot start (its port taken) fails at once, not at the health timeout', async () => {
  const taken = createServer();
  const port = await new Promise<number>((resolve) =>
    taken.listen(0, '127.0.0.1', () => resolve((taken.address() as { port: number }).port)),
  );
  const dir = mkdtempSync(join(tmpdir(), 'kvflow-taken-'));
  const started = Date.now();
  try {
    const err = await startNatsServer({ port, monitorPort: await freePort(), storeDir: dir }).catch((e) => e);
    expect(err).toBeInstanceOf(ServerExitedError);
    expect(Date.now() - started).toBeLessThan(10_000);
  } finally {
    taken.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
