import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NodeLocator, portNodeLocator } from '@kvflow/autoscale';
import {
  findBinary,
  freePort,
  INSTALL_HINT,
  isListening,
  ROOT,
  startNatsCluster,
  startNatsServer,
  startRedisCluster,
  startRedisServer,
} from '@kvflow/stack';

export interface LocalStackOptions {
  natsPort: number;
  natsMonitorPort: number;
  redisPort: number;
  /** Project-local directory for server data and logs. */
  dataDir: string;
  say: (line: string) => void;
}

export interface LocalStack {
  /** One URL, or a cluster's URLs comma-separated (NATS_URL). */
  natsUrl: string;
  /** The monitoring endpoint the lag reader is configured with (KEDA's natsServerMonitoringEndpoint). */
  natsMonitorUrl: string;
  /** How the lag reader reaches each node of a NATS cluster; KEDA's rule when absent. */
  natsLocate?: NodeLocator;
  /** One URL, or a Redis Cluster's seed nodes comma-separated (REDIS_URL). */
  redisUrl: string;
  /** REDIS_CLUSTER: the services use the Redis Cluster client. */
  redisCluster: boolean;
  /** STREAM_REPLICAS these servers call for; the configured setting when absent. */
  streamReplicas?: number;
  logDir: string;
  /** Stops the servers this stack started (servers it reused keep running). */
  stop(): Promise<void>;
}

type ServerBinary = Parameters<typeof findBinary>[0];

/** Installs missing server binaries with the project's script, or explains precisely how to. */
export function ensureServerBinaries(
  say: (line: string) => void,
  needed: ServerBinary[] = ['nats-server', 'redis-server'],
): void {
  const missing = needed.filter((b) => !findBinary(b));
  if (missing.length === 0) return;
  say(`${missing.join(' and ')} not found: running scripts/install-servers.sh`);
  const result = spawnSync('bash', [join(ROOT, 'scripts/install-servers.sh')], { stdio: 'inherit' });
  const still = missing.filter((b) => !findBinary(b));
  if (result.status !== 0 || still.length > 0) {
    throw new Error(
      `${still.join(' and ') || missing.join(' and ')} could not be installed automatically; ${INSTALL_HINT}`,
    );
  }
}

async function natsHasJetStream(monitorPort: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${monitorPort}/healthz?js-enabled-only=true`)).ok;
  } catch {
    return false;
  }
}

/**
 * Starts nats-server (JetStream + monitoring) and redis-server, or reuses ones already listening (and then never
 * stops them). If one cannot be started, the one this call started is stopped again before the error is thrown.
 */
export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const logDir = join(opts.dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  // What this call started, stopped in reverse; taken out as it goes, so stopping twice stops nothing twice.
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s();
  };
  try {
    return { ...(await startOrReuse(opts, logDir, stops)), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function startOrReuse(
  opts: LocalStackOptions,
  logDir: string,
  stops: Array<() => Promise<void>>,
): Promise<Omit<LocalStack, 'stop'>> {
  const natsUrl = `nats://127.0.0.1:${opts.natsPort}`;
  const redisUrl = `redis://127.0.0.1:${opts.redisPort}`;

  const natsUp = await isListening(opts.natsPort);
  const redisUp = await isListening(opts.redisPort);
  if (!natsUp || !redisUp) ensureServerBinaries(opts.say);

  if (natsUp) {
    if (!(await natsHasJetStream(opts.natsMonitorPort))) {
      throw new Error(
        `something listens on :${opts.natsPort} but no JetStream monitoring answers on :${opts.natsMonitorPort}; ` +
          'stop it, or start nats-server with -js -m ' +
          String(opts.natsMonitorPort),
      );
    }
    opts.say(
      `reusing the nats-server on :${opts.natsPort} (monitoring :${opts.natsMonitorPort}); not started here, so it is left running`,
    );
  } else {
    const nats = await startNatsServer({
      port: opts.natsPort,
      monitorPort: opts.natsMonitorPort,
      storeDir: join(opts.dataDir, 'nats'),
      logFile: join(logDir, 'nats-server.log'),
    });
    stops.push(nats.stop);
    opts.say(`started nats-server on :${opts.natsPort} (JetStream, monitoring :${opts.natsMonitorPort})`);
  }
  if (redisUp) {
    opts.say(`reusing the redis-server on :${opts.redisPort}; not started here, so it is left running`);
  } else {
    const redis = await startRedisServer({
      port: opts.redisPort,
      dataDir: join(opts.dataDir, 'redis'),
      logFile: join(logDir, 'redis-server.log'),
    });
    stops.push(redis.stop);
    opts.say(`started redis-server on :${opts.redisPort}`);
  }
  return {
    natsUrl,
    natsMonitorUrl: `http://127.0.0.1:${opts.natsMonitorPort}`,
    redisUrl,
    redisCluster: false,
    logDir,
  };
}

/** Fresh servers on free ports with a temporary data directory: a reproducible run that touches nothing else. */
export async function startIsolatedStack(say: (line: string) => void): Promise<LocalStack> {
  ensureServerBinaries(say);
  const dir = mkdtempSync(join(tmpdir(), 'kvflow-demo-'));
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const nats = await startNatsServer({
    port: await freePort(),
    monitorPort: await freePort(),
    storeDir: join(dir, 'nats'),
    logFile: join(logDir, 'nats-server.log'),
  });
  const redis = await startRedisServer({ port: await freePort(), logFile: join(logDir, 'redis-server.log') });
  say(`started isolated nats-server (${nats.url}) and redis-server (${redis.url}); logs in ${logDir}`);
  return {
    natsUrl: nats.url,
    natsMonitorUrl: nats.monitorUrl,
    redisUrl: redis.url,
    redisCluster: false,
    logDir,
    stop: async () => {
      await redis.stop();
      await nats.stop();
      rmSync(join(dir, 'nats'), { recursive: true, force: true });
    },
  };
}

/**
 * A 3-node JetStream cluster and a Redis Cluster (3 masters + 3 replicas) on free loopback ports: the engines a
 * deployment outgrowing one server runs. The stream, consumer and dead-letter stream go to R3. The lag reader's
 * endpoint is the first node, as KEDA's is whichever node the headless service answers from.
 */
export async function startClusterStack(say: (line: string) => void): Promise<LocalStack> {
  ensureServerBinaries(say, ['nats-server', 'redis-server', 'redis-cli']);
  const dir = mkdtempSync(join(tmpdir(), 'kvflow-demo-cluster-'));
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const [natsStart, redisStart] = await Promise.allSettled([
    startNatsCluster(3, { logDir }),
    startRedisCluster({ logDir }),
  ]);
  if (natsStart.status === 'rejected' || redisStart.status === 'rejected') {
    // The one that started must not outlive the demo.
    if (natsStart.status === 'fulfilled') await natsStart.value.stop();
    if (redisStart.status === 'fulfilled') await redisStart.value.stop();
    const failed = natsStart.status === 'rejected' ? natsStart : (redisStart as PromiseRejectedResult);
    throw new Error(
      `cannot start the cluster servers (logs in ${logDir}): ${(failed.reason as Error).message}`,
    );
  }
  const nats = natsStart.value;
  const redis = redisStart.value;
  const first = nats.servers[0];
  if (!first) throw new Error('the NATS cluster started no server');
  say(
    `started a 3-node NATS cluster (${nats.url}, monitoring ${nats.servers.map((s) => s.monitorPort).join(', ')}) ` +
      `and a Redis Cluster of 3 masters + 3 replicas (${redis.url}); logs in ${logDir}`,
  );
  return {
    natsUrl: nats.url,
    natsMonitorUrl: first.monitorUrl,
    natsLocate: portNodeLocator(new Map(nats.servers.map((s) => [s.port, s.monitorUrl]))),
    redisUrl: redis.url,
    redisCluster: true,
    streamReplicas: 3,
    logDir,
    stop: async () => {
      await Promise.all([redis.stop(), nats.stop()]);
    },
  };
}
