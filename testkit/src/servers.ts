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

export interface NatsCluster {
  servers: NatsProcess[];
  /** Every server's URL, comma-separated, as NATS_URL takes them. */
  url: string;
  stop(): Promise<void>;
}

/** A JetStream cluster of `size` nats-servers on loopback, each with its own store. */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const dirs = Array.from({ length: size }, () => mkdtempSync(join(tmpdir(), 'kvflow-natsc-')));
  const ports = await Promise.all(
    Array.from({ length: size }, async () => ({
      client: await freePort(),
      monitor: await freePort(),
      route: await freePort(),
    })),
  );
  const name = `kvflow-${ports[0]?.client}`;
  const servers = await Promise.all(
    ports.map((p, i) =>
      startNatsServer({
        port: p.client,
        monitorPort: p.monitor,
        storeDir: dirs[i] as string,
        cluster: {
          serverName: `n${i + 1}`,
          name,
          routePort: p.route,
          peerRoutePorts: ports.filter((_, j) => j !== i).map((q) => q.route),
        },
      }),
    ),
  );
  return {
    servers,
    url: servers.map((s) => s.url).join(','),
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}
