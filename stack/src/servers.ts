import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  freePort,
  type NatsProcess,
  type RedisClusterNodeProcess,
  redisCli,
  ServerExitedError,
  type ServerProcess,
  startNatsServer,
  startRedisClusterNode,
  startRedisServer,
} from './server-process.js';

/** Real servers for tests and benchmarks: JetStream nats-server and redis-server on free loopback ports. */

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

/**
 * A JetStream cluster of `size` nats-servers on loopback, each with its own store (logs in `logDir`, if given). A
 * node that exits while starting (one of its nine picked ports taken meanwhile by another test's connection) makes
 * the cluster start again, once, on new ports.
 */
export async function startNatsCluster(size = 3, opts: { logDir?: string } = {}): Promise<NatsCluster> {
  try {
    return await startNatsClusterOnce(size, opts);
  } catch (err) {
    if (!(err instanceof ServerExitedError)) throw err;
    return startNatsClusterOnce(size, opts);
  }
}

async function startNatsClusterOnce(size: number, opts: { logDir?: string }): Promise<NatsCluster> {
  const dirs = Array.from({ length: size }, () => mkdtempSync(join(tmpdir(), 'kvflow-natsc-')));
  const ports = await Promise.all(
    Array.from({ length: size }, async () => ({
      client: await freePort(),
      monitor: await freePort(),
      route: await freePort(),
    })),
  );
  const name = `kvflow-${ports[0]?.client}`;
  const started = await Promise.allSettled(
    ports.map((p, i) =>
      startNatsServer({
        port: p.client,
        monitorPort: p.monitor,
        storeDir: dirs[i] as string,
        logFile: opts.logDir ? join(opts.logDir, `nats-server-n${i + 1}.log`) : undefined,
        cluster: {
          serverName: `n${i + 1}`,
          name,
          routePort: p.route,
          peerRoutePorts: ports.filter((_, j) => j !== i).map((q) => q.route),
        },
      }),
    ),
  );
  const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(servers.map((s) => s.stop()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    throw failed.reason;
  }
  return {
    servers,
    url: servers.map((s) => s.url).join(','),
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

export interface RedisCluster {
  nodes: RedisClusterNodeProcess[];
  /** Every node's URL, comma-separated: REDIS_URL's seed list with REDIS_CLUSTER=true. */
  url: string;
  /** The ports of the masters that serve slots now, as a running node sees the cluster. */
  masterPorts(): Promise<number[]>;
  /**
   * Resolves once every running node says cluster_state:ok and `masters` masters, all running, serve every slot
   * (after a failover: the replica took over and everyone knows it).
   */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes their directories. */
  stop(): Promise<void>;
}

interface ClusterNodeLine {
  port: number;
  master: boolean;
  failed: boolean;
  slots: number;
}

/** Parses CLUSTER NODES: one line per node, `<id> <ip:port@bus> <flags> <master> ... <slot ranges>`. */
function clusterNodes(text: string): ClusterNodeLine[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const f = line.trim().split(' ');
      const port = Number(/:(\d+)@/.exec(f[1] ?? '')?.[1]);
      const flags = (f[2] ?? '').split(',');
      let slots = 0;
      for (const range of f.slice(8)) {
        if (range.startsWith('[')) continue; // a slot being migrated
        const [from, to] = range.split('-').map(Number);
        slots += (to ?? from ?? 0) - (from ?? 0) + 1;
      }
      return {
        port,
        master: flags.includes('master'),
        failed: flags.includes('fail') || flags.includes('fail?'),
        slots,
      };
    });
}

/**
 * A Redis Cluster on loopback: `masters` masters with `replicasPerMaster` replicas each (created with
 * `redis-cli --cluster create`), every node without persistence in a temporary directory. Ready when every node
 * says cluster_state:ok.
 */
export async function startRedisCluster(
  opts: { masters?: number; replicasPerMaster?: number; nodeTimeoutMs?: number; logDir?: string } = {},
): Promise<RedisCluster> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicasPerMaster ?? 1;
  const size = masters * (1 + replicas);
  const root = mkdtempSync(join(tmpdir(), 'kvflow-redisc-'));
  const ports = await Promise.all(
    Array.from({ length: size }, async () => ({ port: await freePort(), bus: await freePort() })),
  );
  const nodes = await Promise.all(
    ports.map((p, i) =>
      startRedisClusterNode({
        port: p.port,
        busPort: p.bus,
        dir: join(root, `node-${i + 1}`),
        nodeTimeoutMs: opts.nodeTimeoutMs ?? 2_000,
        logFile: opts.logDir ? join(opts.logDir, `redis-server-${p.port}.log`) : undefined,
      }),
    ),
  );
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(root, { recursive: true, force: true });
  };
  const running = () => nodes.filter((n) => n.running);
  const view = async () =>
    clusterNodes(await redisCli((running()[0] as RedisClusterNodeProcess).port, ['cluster', 'nodes']));
  const healthy = async () => {
    for (const n of running()) {
      const info = await redisCli(n.port, ['cluster', 'info']);
      if (!/^cluster_state:ok/m.test(info) || !/^cluster_slots_ok:16384/m.test(info)) return false;
      // A replica that has not synced yet could not take over.
      const replication = await redisCli(n.port, ['info', 'replication']);
      if (/^role:slave/m.test(replication) && !/^master_link_status:up/m.test(replication)) return false;
    }
    const up = new Set(running().map((n) => n.port));
    const serving = (await view()).filter((l) => l.master && l.slots > 0 && !l.failed);
    return serving.length === masters && serving.every((l) => up.has(l.port));
  };
  try {
    await redisCli(
      ports[0]?.port as number,
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p.port}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      60_000,
    );
    const cluster: RedisCluster = {
      nodes,
      url: nodes.map((n) => n.url).join(','),
      masterPorts: async () =>
        (await view()).filter((l) => l.master && l.slots > 0 && !l.failed).map((l) => l.port),
      waitUntilHealthy: async (timeoutMs = 30_000) => {
        const deadline = Date.now() + timeoutMs;
        while (!(await healthy().catch(() => false))) {
          if (Date.now() > deadline)
            throw new Error(
              `redis cluster not healthy after ${timeoutMs} ms: ${JSON.stringify(await view())}`,
            );
          await sleep(100);
        }
      },
      stop,
    };
    await cluster.waitUntilHealthy();
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}
