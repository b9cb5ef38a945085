import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  type NatsProcess,
  type ServerProcess,
  startNatsServer,
  startRedisServer,
} from './server-processes.js';

/** Real servers for tests and benchmarks: JetStream nats-server and redis-server on free loopback ports. */

export { freePort };

export interface NatsServer extends NatsProcess {
  /** Stops the server but keeps its store, so start() brings the same streams back. */
  pause(): Promise<void>;
}
export type RedisServer = ServerProcess;

export async function startNats(): Promise<NatsServer> {
  const storeDir = mkdtempSync(join(tmpdir(), 'kvflow-nats-'));
  const server = await startNatsServer({ port: await freePort(), monitorPort: await freePort(), storeDir });
  return {
    ...server,
    pause: server.stop,
    stop: async () => {
      await server.stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

export function startRedis(): Promise<RedisServer> {
  return freePort().then((port) => startRedisServer({ port }));
}
