import {
  type DeadLetter,
  type KvEvent,
  listDeadLetters,
  Publisher,
  provision,
  readAll,
} from '@kvflow/common';
import { freePort, httpReady, waitUntil } from '@kvflow/stack';
import {
  consumerLag,
  mapLimit,
  modelState,
  randomEvent,
  scrapeMetric,
  serviceEnv,
  settingsFor,
  spawnService,
} from '@kvflow/testkit';
import { useServers } from '@kvflow/testkit/vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';

const TOTAL = 50_000;
const VIA_HTTP = 2_000;
const POISON = 25;
const KEY_SPACE = 2_000;

const ctx = useServers();
let redis: Redis;

afterAll(() => redis?.disconnect());

describe('pipeline end to end (real nats-server, redis-server, producer and 3 worker processes)', () => {
  it(`applies ${TOTAL} events exactly as the stream orders them, despite a SIGKILLed worker`, async () => {
    // A short ack_wait so the killed worker's unacknowledged events come back within the test.
    const env = serviceEnv(ctx.nats, ctx.redis, { ACK_WAIT_MS: '2000', PROVISION: 'false' });
    const settings = settingsFor(env);
    redis = new Redis(ctx.redis.url);
    await provision(ctx.nc, settings);

    const producerPort = await freePort();
    const producer = spawnService('producer/dist/main.js', {
      ...env,
      HTTP_PORT: String(producerPort),
      HTTP_HOST: '127.0.0.1',
    });
    ctx.services.push(producer);
    await waitUntil('producer ready', () => httpReady(producerPort));
    const bySeq = new Map<number, KvEvent>();
    const poisonSeqs = new Set<number>();
    const js = jetstream(ctx.nc);

    // 1) Writes through the producer's HTTP API.
    const httpEvents = Array.from({ length: VIA_HTTP }, () => randomEvent(KEY_SPACE, 'api'));
    await mapLimit(httpEvents, 32, async (e) => {
      const url = `http://127.0.0.1:${producerPort}/keys/${encodeURIComponent(e.key)}`;
      const res =
        e.op === 'set'
          ? await fetch(url, { method: 'PUT', body: e.value, headers: { 'content-type': 'text/plain' } })
          : await fetch(url, { method: 'DELETE' });
      expect(res.status).toBe(202);
      const { seq } = (await res.json()) as { seq: number };
      // The API assigns its own id and ts; the model needs only op, key and value.
      bySeq.set(seq, e);
    });

    // 2) The bulk through the producer's publisher, with poison messages mixed in. Half of it is published first so
    //    a backlog exists; one worker is SIGKILLed while it holds pulled, unacknowledged events.
    const publisher = new Publisher(ctx.nc, {
      subject: settings.subject,
      maxInFlight: 512,
      timeoutMs: 5000,
      retries: 3,
    });
    const bulk = Array.from({ length: TOTAL - VIA_HTTP }, () => randomEvent(KEY_SPACE));
    const poisonAt = new Set(
      Array.from({ length: POISON }, (_, i) => Math.floor(((i + 0.5) * bulk.length) / POISON)),
    );
    const publishAll = (events: KvEvent[], offset: number) =>
      mapLimit(
        events.map((e, i) => [e, offset + i] as const),
        512,
        async ([e, i]) => {
          if (poisonAt.has(i)) {
            const payload = i % 2 === 0 ? '{not json' : JSON.stringify({ ...e, v: 99 });
            poisonSeqs.add((await js.publish(settings.subject, payload, { msgID: `poison-${i}` })).seq);
          }
          bySeq.set((await publisher.publish(e)).seq, e);
        },
      );
    const half = Math.floor(bulk.length / 2);
    await publishAll(bulk.slice(0, half), 0);
    const workerPorts = await Promise.all([freePort(), freePort(), freePort()]);
    const workers = workerPorts.map((port) =>
      spawnService('consumer/dist/main.js', { ...env, METRICS_PORT: String(port) }),
    );
    ctx.services.push(...workers);
    await waitUntil('workers ready', async () =>
      (await Promise.all(workerPorts.map(httpReady))).every(Boolean),
    );

    const victimPort = workerPorts[1] as number;
    await waitUntil('the victim worker is busy', async () => {
      const applied = await scrapeMetric(victimPort, 'kvflow_events_applied_total{outcome="applied"}');
      return applied > 1000 && (await consumerLag(ctx.nc, settings)).pending > 2000;
    });
    workers[1]?.child.kill('SIGKILL');
    await publishAll(bulk.slice(half), half);
    expect(bySeq.size).toBe(TOTAL);
    expect((await workers[1]?.exited)?.signal).toBe('SIGKILL');

    // 3) Everything drains: nothing pending, nothing awaiting an ack.
    await waitUntil(
      'consumer drained',
      async () => {
        const lag = await consumerLag(ctx.nc, settings);
        return lag.pending === 0 && lag.ackPending === 0;
      },
      90_000,
    );

    // The killed worker's unacknowledged events came back to the survivors (and were applied once).
    const survivors = [workerPorts[0], workerPorts[2]] as number[];
    const redelivered = (
      await Promise.all(survivors.map((p) => scrapeMetric(p, 'kvflow_redeliveries_total')))
    ).reduce((a, b) => a + b);
    console.info(`e2e: ${TOTAL} events + ${POISON} poison; redelivered after SIGKILL: ${redelivered}`);
    expect(redelivered).toBeGreaterThan(0);
    const state = await readAll(redis);
    const expected = modelState(bySeq);
    expect(state.size).toBe(expected.size);
    expect(state).toEqual(expected);

    const letters: DeadLetter[] = [];
    for await (const l of listDeadLetters(await jetstreamManager(ctx.nc), settings)) letters.push(l);
    expect(letters.every((l) => l.kind === 'poison')).toBe(true);
    expect(new Set(letters.map((l) => l.originalSeq))).toEqual(poisonSeqs);
    expect(letters).toHaveLength(POISON);
  }, 180_000);
});
