import {
  connectNats,
  createLogger,
  type NatsConnection,
  provision,
  type StreamSettings,
} from '@kvflow/common';
import {
  freePort,
  httpReady,
  type NatsServer,
  type RedisCluster,
  redisCli,
  type ServiceProcess,
  startNats,
  startRedisCluster,
  waitUntil,
} from '@kvflow/stack';
import {
  connectionFor,
  scrapeMetric,
  serviceEnv,
  settingsFor,
  spawnService,
  startWorkerProcess,
  WriteOracle,
  waitCaughtUp,
} from '@kvflow/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * kvflow on a Redis Cluster (3 masters + 3 replicas) by configuration alone (REDIS_CLUSTER=true, REDIS_URL = the
 * seed nodes): producer and two worker processes, the chaos suite's black-box oracle (testkit WriteOracle: every
 * write that got a 202 is recorded; per key the highest sequence wins; every key is read back over the API), then
 * faults on one master at a time.
 */
let redis: RedisCluster;
let nats: NatsServer;
let nc: NatsConnection;
let settings: StreamSettings;
let api: string;
const workerPorts: number[] = [];
const workers: ServiceProcess[] = [];
const services: ServiceProcess[] = [];

const KEYS = 600;

let oracle: WriteOracle;

function load(writes: number): Promise<void> {
  return oracle.load({ writes, maxMs: 60_000, concurrency: 16 });
}

function caughtUp(timeoutMs = 60_000): Promise<void> {
  return waitCaughtUp(nc, settings, timeoutMs);
}

/** Keys whose state read over the API differs from the oracle (a 503 counts: the state must be readable). */
async function mismatches(): Promise<string[]> {
  const v = await oracle.verify();
  // An outage may refuse a write (503); it must never answer anything else.
  return [...oracle.counts.unexpected, ...v.mismatches];
}

/** Every key the list endpoint returns, page by page (its cursor walks every master). */
async function listed(): Promise<{ keys: Set<string>; pages: number }> {
  const keys = new Set<string>();
  let cursor: string | null = '0';
  let pages = 0;
  while (cursor !== null) {
    const res = await fetch(`${api}/keys?prefix=rc&limit=50&cursor=${cursor}`);
    expect(res.status).toBe(200);
    const page = (await res.json()) as { keys: string[]; cursor: string | null };
    for (const k of page.keys) keys.add(k);
    cursor = page.cursor;
    pages++;
  }
  return { keys, pages };
}

/** A worker metric summed over both workers. */
async function workerSum(sample: string): Promise<number> {
  const n = await Promise.all(workerPorts.map((p) => scrapeMetric(p, sample)));
  return n.reduce((a, b) => a + b, 0);
}

const repairsCounted = () => workerSum('kvflow_redis_data_loss_repairs_total');

async function deadLetters(): Promise<number> {
  return (await (await jetstreamManager(nc)).streams.info(settings.dlqStream)).state.messages;
}

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedisCluster({ nodeTimeoutMs: 2_000 })]);
  const env = serviceEnv(nats, redis, {
    REDIS_CLUSTER: 'true',
    PROVISION: 'false',
    WATERMARK_INTERVAL_MS: '200',
    NAK_BASE_DELAY_MS: '200',
    NAK_MAX_DELAY_MS: '2000',
  });
  settings = settingsFor(env);
  nc = await connectNats(connectionFor(env), createLogger('test', 'silent'), 'test');
  await provision(nc, settings);
  const apiPort = await freePort();
  api = `http://127.0.0.1:${apiPort}`;
  oracle = new WriteOracle({ api, keyPrefix: 'rc', keys: KEYS, deleteEvery: 13 });
  services.push(
    spawnService('producer/dist/main.js', { ...env, HTTP_PORT: String(apiPort), HTTP_HOST: '127.0.0.1' }),
  );
  for (let i = 0; i < 2; i++) {
    const w = await startWorkerProcess(env, services);
    workers.push(w.service);
    workerPorts.push(w.port);
  }
  await waitUntil('producer ready', () => httpReady(apiPort));
}, 120_000);

afterAll(async () => {
  for (const s of services) s.child.kill('SIGKILL');
  await nc?.close();
  await Promise.all([nats?.stop(), redis?.stop()]);
});

describe('Redis Cluster', () => {
  it('applies writes over every master; reads and the listing see all of them', async () => {
    const started = Date.now();
    await load(3_000);
    await caughtUp();
    expect(await mismatches()).toEqual([]);
    // Every master holds a share of the keys (the keys spread over all slot groups).
    for (const port of await redis.masterPorts())
      expect(Number(await redisCli(port, ['dbsize'])), `keys on master ${port}`).toBeGreaterThan(50);
    const { keys, pages } = await listed();
    expect([...keys].sort()).toEqual(oracle.liveKeys().sort());
    console.log(
      `redis cluster: ${oracle.counts.accepted} writes over ${oracle.expected().size} keys applied and read back, ` +
        `${keys.size} listed in ${pages} pages, ${Date.now() - started} ms`,
    );
  });

  it('keeps every acknowledged write when a master is SIGKILLed under load and its replica takes over', async () => {
    const started = Date.now();
    const [victimPort] = await redis.masterPorts();
    const victim = redis.nodes.find((n) => n.port === victimPort);
    if (!victim) throw new Error(`no node on port ${victimPort}`);
    const refusedBefore = oracle.counts.refused;
    const failedBefore = await workerSum('kvflow_transient_failures_total');
    const redeliveredBefore = await workerSum('kvflow_redeliveries_total');
    const during = load(4_000);
    await new Promise((r) => setTimeout(r, 300));
    await victim.kill();
    await during;
    await redis.waitUntilHealthy(30_000); // the replica took over
    expect(await redis.masterPorts()).not.toContain(victimPort);
    const failoverMs = Date.now() - started;
    await load(1_000); // and the pipeline keeps going on the new master
    await caughtUp(90_000);
    expect(await mismatches()).toEqual([]);
    expect([...(await listed()).keys].sort()).toEqual(oracle.liveKeys().sort());
    expect(await deadLetters()).toBe(0);
    // The workers were applying when the master died: batches for its slots failed and came back.
    const failed = (await workerSum('kvflow_transient_failures_total')) - failedBefore;
    expect(failed).toBeGreaterThan(0);
    const replays = workers
      .flatMap((w) => w.output().split('\n'))
      .filter((l) => l.includes('redis lost')).length;
    console.log(
      `redis cluster failover: ${oracle.counts.refused - refusedBefore} writes refused (503), ${failed} failed ` +
        `batches, ${(await workerSum('kvflow_redeliveries_total')) - redeliveredBefore} redeliveries, ` +
        `${replays} guard replays, healthy again after ${failoverMs} ms, state = model after ` +
        `${Date.now() - started} ms`,
    );
    // The killed master comes back (empty) as the new master's replica.
    await victim.start();
    await redis.waitUntilHealthy(30_000);
  });

  it('repairs one master that restarted empty, by itself and for that master only', async () => {
    const started = Date.now();
    await load(1_000);
    await caughtUp();
    await new Promise((r) => setTimeout(r, 600)); // the watermarks follow the ack floor
    const repairsBefore = await repairsCounted();
    const [victimPort] = await redis.masterPorts();
    const victim = redis.nodes.find((n) => n.port === victimPort);
    if (!victim) throw new Error(`no node on port ${victimPort}`);
    const keysBefore = Number(await redisCli(victimPort as number, ['dbsize']));
    expect(keysBefore).toBeGreaterThan(0);

    // Back well within the node timeout: it stays the master of its slots, with no data (and its replica follows).
    await victim.kill();
    await victim.start();
    await load(500); // the pipeline keeps going meanwhile
    await waitUntil('the lost master repaired', async () => (await repairsCounted()) > repairsBefore, 30_000);
    await caughtUp();
    expect(await redis.masterPorts()).toContain(victimPort);
    expect(await mismatches()).toEqual([]);
    expect(await repairsCounted()).toBe(repairsBefore + 1);
    const repairLines = workers
      .flatMap((w) => w.output().split('\n'))
      .filter((l) => l.includes('redis lost acknowledged writes; repaired them from the stream'));
    expect(repairLines.some((l) => l.includes(`127.0.0.1:${victimPort}`))).toBe(true);
    console.log(
      `redis cluster master restarted empty: ${keysBefore} keys lost on it, repaired and state = model after ` +
        `${Date.now() - started} ms`,
    );
  });
});
