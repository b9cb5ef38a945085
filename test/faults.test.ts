import { spawn } from 'node:child_process';
import { type DeadLetter, listDeadLetters, provision, readAll } from '@kvflow/common';
import { requireBinary, waitUntil } from '@kvflow/stack';
import {
  caughtUp,
  modelState,
  randomEvent,
  recordingPublisher,
  scrapeMetric,
  serviceEnv,
  settingsFor,
  startWorkerProcess,
  streamNames,
} from '@kvflow/testkit';
import { useServers } from '@kvflow/testkit/vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';

const ctx = useServers();

describe('failure rules', () => {
  it('pauses on a Redis outage without burning deliveries, then applies everything once Redis is back', async () => {
    const env = serviceEnv(ctx.nats, ctx.redis, {
      ...streamNames('OUTAGE'),
      MAX_DELIVER: '3',
      NAK_BASE_DELAY_MS: '200',
      NAK_MAX_DELAY_MS: '1000',
    });
    const settings = settingsFor(env);
    await provision(ctx.nc, settings);
    const { port } = await startWorkerProcess(env, ctx.services);
    const { bySeq, publish } = recordingPublisher(ctx.nc, settings, { keySpace: 100, inFlight: 64 });
    await publish(200);

    await ctx.redis.stop();
    await publish(300); // arrives while Redis is down
    await waitUntil('worker paused and not ready', async () => {
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      return ready.status === 503 && (await scrapeMetric(port, 'kvflow_worker_paused')) === 1;
    });
    // Stay down for several nak delays; with MAX_DELIVER=3 a worker that kept pulling would exhaust deliveries.
    await new Promise((r) => setTimeout(r, 3_000));
    await ctx.redis.start();
    await waitUntil('backlog applied', () => caughtUp(ctx.nc, settings));
    expect(await scrapeMetric(port, 'kvflow_worker_paused')).toBe(0);
    const redis = new Redis(ctx.redis.url);
    try {
      // Redis restarted empty (no persistence in this test): rebuild semantics aside, every event published
      // after the outage began must be there, and nothing was dead-lettered.
      const afterOutage = new Map([...bySeq].filter(([seq]) => seq > 200));
      const expected = modelState(afterOutage);
      const state = await readAll(redis);
      for (const [k, v] of expected) expect(state.get(k)).toBe(v);
      const letters: DeadLetter[] = [];
      for await (const l of listDeadLetters(await jetstreamManager(ctx.nc), settings)) letters.push(l);
      expect(letters).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('records events that exhaust max_deliver in the dead-letter stream, from the server advisory', async () => {
    const env = serviceEnv(ctx.nats, ctx.redis, {
      ...streamNames('MAXDEL'),
      MAX_DELIVER: '2',
      ACK_WAIT_MS: '1000',
    });
    const settings = settingsFor(env);
    await provision(ctx.nc, settings);
    const e = randomEvent(10);
    const ack = await jetstream(ctx.nc).publish(settings.subject, JSON.stringify(e));
    // Take the message twice without acknowledging it, as a worker stuck on it would.
    const consumer = await jetstream(ctx.nc).consumers.get(settings.stream, settings.consumer);
    for (let i = 0; i < 2; i++) {
      const m = await consumer.next({ expires: 5_000 });
      expect(m?.seq).toBe(ack.seq);
    }
    // The server notices the exhausted message (and publishes the advisory) on the next pull, as a worker makes.
    expect(await consumer.next({ expires: 2_500 })).toBeNull();
    let letters: DeadLetter[] = [];
    await waitUntil('advisory captured', async () => {
      letters = [];
      for await (const l of listDeadLetters(await jetstreamManager(ctx.nc), settings)) letters.push(l);
      return letters.length > 0;
    });
    expect(letters).toEqual([
      expect.objectContaining({
        kind: 'max_deliveries',
        originalSeq: ack.seq,
        deliveries: 2,
        reason: 'not acknowledged after 2 deliveries',
      }),
    ]);
    expect(JSON.parse(Buffer.from(letters[0]?.data as Uint8Array).toString())).toEqual(e);
  });

  it('an idle worker is not ready within 3 s of losing its Redis, and ready again when Redis is back', async () => {
    const env = serviceEnv(ctx.nats, ctx.redis, streamNames('IDLE_READY'));
    await provision(ctx.nc, settingsFor(env));
    const { port } = await startWorkerProcess(env, ctx.services);
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      return { status: res.status, body: (await res.json()) as { checks: Record<string, boolean> } };
    };
    expect((await readyz()).status).toBe(200);
    await ctx.redis.stop();
    const lost = Date.now();
    await waitUntil('idle worker not ready', async () => (await readyz()).status === 503, 3_000);
    expect(Date.now() - lost).toBeLessThan(3_000);
    expect((await readyz()).body.checks).toMatchObject({ nats: true, redis: false, consumer: true });
    await ctx.redis.start();
    await waitUntil('worker ready again', async () => (await readyz()).status === 200, 10_000);
  });

  it('logs each new cause of one outage: refused, then NOAUTH when Redis comes back with a password', async () => {
    const env = serviceEnv(ctx.nats, ctx.redis, streamNames('CAUSES'));
    await provision(ctx.nc, settingsFor(env));
    const { service } = await startWorkerProcess(env, ctx.services);
    await ctx.redis.stop();
    await waitUntil('the refusal logged', () => service.output().includes('ECONNREFUSED'), 5_000);
    const locked = spawn(
      requireBinary('redis-server'),
      [
        '--port',
        String(ctx.redis.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--requirepass',
        'not-the-workers',
      ],
      { stdio: 'ignore' },
    );
    try {
      await waitUntil(
        'NOAUTH logged as a new cause',
        () => /"err":"NOAUTH[^"]*","msg":"redis connection error: new cause"/.test(service.output()),
        10_000,
      );
      expect(service.output().match(/ECONNREFUSED/g)?.length).toBe(1);
    } finally {
      locked.kill('SIGKILL');
      await new Promise((r) => locked.once('exit', r));
      await ctx.redis.start();
    }
  });
});
