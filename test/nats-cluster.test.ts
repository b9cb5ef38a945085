import { connectNats, createLogger, type NatsConnection, provision } from '@kvflow/common';
import {
  freePort,
  httpReady,
  type NatsCluster,
  type RedisServer,
  type ServiceProcess,
  startNatsCluster,
  startRedis,
  waitUntil,
} from '@kvflow/stack';
import {
  connectionFor,
  serviceEnv,
  settingsFor,
  spawnService,
  WriteOracle,
  waitCaughtUp,
} from '@kvflow/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * kvflow on a 3-node JetStream cluster (stream, dead-letter stream and consumer at R3), configured by NATS_URL
 * alone, with the chaos suite's black-box oracle (testkit WriteOracle: every write that got a 202 is recorded; per
 * key the highest sequence wins; after the run every touched key is read back over the API). Scenario 3 of the
 * chaos suite (test/chaos.test.ts).
 */
let cluster: NatsCluster;
let redis: RedisServer;
let nc: NatsConnection;
const services: ServiceProcess[] = [];

beforeAll(async () => {
  [cluster, redis] = await Promise.all([startNatsCluster(3), startRedis()]);
});
afterAll(async () => {
  for (const s of services) s.child.kill('SIGKILL');
  await nc?.close();
  await Promise.all([cluster?.stop(), redis?.stop()]);
});

describe('NATS cluster', () => {
  it('keeps every acknowledged write when the stream leader is SIGKILLed under load', async () => {
    const env = serviceEnv(cluster, redis, {
      STREAM_REPLICAS: '3',
      PROVISION: 'false',
      PUBLISH_TIMEOUT_MS: '2000',
    });
    const settings = settingsFor(env);
    nc = await connectNats(connectionFor(env), createLogger('test', 'silent'), 'test');
    await provision(nc, settings);
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(settings.stream)).config.num_replicas).toBe(3);

    const apiPort = await freePort();
    services.push(
      spawnService('producer/dist/main.js', { ...env, HTTP_PORT: String(apiPort), HTTP_HOST: '127.0.0.1' }),
    );
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      services.push(spawnService('consumer/dist/main.js', { ...env, METRICS_PORT: String(port) }));
      await waitUntil(`worker ${i + 1} ready`, () => httpReady(port));
    }
    await waitUntil('producer ready', () => httpReady(apiPort));

    const oracle = new WriteOracle({
      api: `http://127.0.0.1:${apiPort}`,
      keyPrefix: 'c',
      keys: 300,
      deleteEvery: 11,
    });
    const load = (writes: number) => oracle.load({ writes, maxMs: 60_000, concurrency: 16 });

    await load(1_000);
    const leaderName = (await jsm.streams.info(settings.stream)).cluster?.leader;
    const leader = cluster.servers.find((_, i) => `n${i + 1}` === leaderName);
    expect(leader).toBeDefined();
    const during = load(2_000);
    await new Promise((r) => setTimeout(r, 200));
    await leader?.kill();
    await during;
    // After the re-election (bounded), writes are accepted again, every one of them.
    await oracle.untilAcceptedAgain(30_000);
    const beforeLast = oracle.counts.accepted;
    await load(500);
    expect(oracle.counts.accepted - beforeLast).toBe(500);
    await leader?.start();

    await waitCaughtUp(nc, settings, 60_000);
    const v = await oracle.verify();
    console.log(
      `nats cluster: ${oracle.counts.accepted} writes accepted over ${v.keys} keys, ${oracle.counts.refused} ` +
        `refused (503) during the leader change, ${v.uncertainWins} keys ended on a refused write stored later`,
    );
    // An outage may refuse a write (503 with Retry-After); it must never answer anything else.
    expect(oracle.counts.unexpected).toEqual([]);
    expect(oracle.counts.unanswered).toBe(0);
    expect(oracle.counts.refusedWithoutRetryAfter).toBe(0);
    expect(oracle.expected().size).toBe(300);
    expect(v.mismatches).toEqual([]);
  }, 180_000);
});
