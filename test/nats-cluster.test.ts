import { connectNats, createLogger, type NatsConnection, provision } from '@kvflow/common';
import {
  connectionFor,
  consumerLag,
  freePort,
  httpReady,
  type NatsCluster,
  type RedisServer,
  type Service,
  serviceEnv,
  settingsFor,
  spawnService,
  startNatsCluster,
  startRedis,
  waitUntil,
} from '@kvflow/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * kvflow on a 3-node JetStream cluster (stream, dead-letter stream and consumer at R3), configured by NATS_URL
 * alone, with a black-box oracle: every write that got a 202 is recorded; per key the highest sequence wins; after
 * the run every touched key is read back over the API.
 */
let cluster: NatsCluster;
let redis: RedisServer;
let nc: NatsConnection;
const services: Service[] = [];

beforeAll(async () => {
  [cluster, redis] = await Promise.all([startNatsCluster(3), startRedis()]);
});
afterAll(async () => {
  for (const s of services) s.child.kill('SIGKILL');
  await nc?.close();
  await Promise.all([cluster?.stop(), redis?.stop()]);
});

interface Accepted {
  seq: number;
  op: 'set' | 'del';
  value: string;
}

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

    const accepted = new Map<string, Accepted>();
    let refused = 0;
    let acceptedWrites = 0;
    const write = async (i: number) => {
      const key = `c${i % 300}`;
      const del = i % 11 === 0;
      const value = `v${i}`;
      const res = await fetch(`http://127.0.0.1:${apiPort}/keys/${key}`, {
        method: del ? 'DELETE' : 'PUT',
        headers: { 'content-type': 'text/plain' },
        body: del ? undefined : value,
        signal: AbortSignal.timeout(10_000),
      });
      if (res.status === 202) {
        acceptedWrites++;
        const { seq } = (await res.json()) as { seq: number };
        const prev = accepted.get(key);
        if (!prev || prev.seq < seq) accepted.set(key, { seq, op: del ? 'del' : 'set', value });
      } else {
        expect(res.status).toBe(503); // an outage may refuse a write; it must never be anything else
        expect(res.headers.get('retry-after')).not.toBeNull();
        refused++;
      }
    };
    const load = async (from: number, n: number) => {
      for (let i = from; i < from + n; i += 16)
        await Promise.all(Array.from({ length: Math.min(16, from + n - i) }, (_, j) => write(i + j)));
    };

    await load(0, 1_000);
    const leaderName = (await jsm.streams.info(settings.stream)).cluster?.leader;
    const leader = cluster.servers.find((_, i) => `n${i + 1}` === leaderName);
    expect(leader).toBeDefined();
    const during = load(1_000, 2_000);
    await new Promise((r) => setTimeout(r, 200));
    await leader?.kill();
    await during;
    // After the re-election (bounded), writes are accepted again, every one of them.
    await waitUntil(
      'a write accepted again',
      async () =>
        (
          await fetch(`http://127.0.0.1:${apiPort}/keys/probe`, {
            method: 'PUT',
            body: 'x',
            headers: { 'content-type': 'text/plain' },
          })
        ).status === 202,
      30_000,
    );
    const beforeLast = acceptedWrites;
    await load(3_000, 500);
    expect(acceptedWrites - beforeLast).toBe(500);
    await leader?.start();

    await waitUntil(
      'workers caught up',
      async () => {
        const lag = await consumerLag(nc, settings).catch(() => null);
        return lag !== null && lag.pending === 0 && lag.ackPending === 0;
      },
      60_000,
    );
    let mismatches = 0;
    for (const [key, want] of accepted) {
      const res = await fetch(`http://127.0.0.1:${apiPort}/keys/${key}`);
      const ok =
        want.op === 'del' ? res.status === 404 : res.status === 200 && (await res.text()) === want.value;
      if (!ok) mismatches++;
    }
    console.log(
      `nats cluster: ${accepted.size} keys, ${refused} writes refused (503) during the leader change`,
    );
    expect(accepted.size).toBe(300);
    expect(mismatches).toBe(0);
  }, 180_000);
});
