import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats, createLogger, type NatsConnection, readAll } from '@kvflow/common';
import {
  freePort,
  httpReady,
  type NatsServer,
  type RedisServer,
  ROOT,
  type ServiceProcess,
  startNats,
  startRedis,
  waitUntil,
} from '@kvflow/stack';
import { connectionFor, consumerLag, serviceEnv, settingsFor, spawnService } from '@kvflow/testkit';
import { jetstream } from '@nats-io/jetstream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let nats: NatsServer;
let redisServer: RedisServer;
let env: Record<string, string>;
let nc: NatsConnection;
let redis: Redis;
let worker: ServiceProcess;

async function kvflow(...args: string[]) {
  const svc = spawnService('cli/dist/main.js', env, args);
  const { code } = await svc.exited;
  return { code, output: svc.output() };
}

const drained = () =>
  waitUntil('worker caught up', async () => {
    const lag = await consumerLag(nc, settingsFor(env));
    return lag.pending === 0 && lag.ackPending === 0;
  });

beforeAll(async () => {
  [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
  env = serviceEnv(nats, redisServer);
  nc = await connectNats(connectionFor(env), createLogger('cli-test', 'silent'), 'cli-test');
  redis = new Redis(redisServer.url);
});
afterAll(async () => {
  worker?.child.kill('SIGKILL');
  await nc?.close();
  redis?.disconnect();
  await Promise.all([nats?.stop(), redisServer?.stop()]);
});

describe('kvflow CLI (real servers)', () => {
  it('provisions idempotently', async () => {
    expect(await kvflow('provision')).toMatchObject({
      code: 0,
      output: expect.stringContaining('consumer workers: created'),
    });
    expect(await kvflow('provision')).toMatchObject({
      code: 0,
      output: expect.stringContaining('consumer workers: updated'),
    });
    const port = await freePort();
    worker = spawnService('consumer/dist/main.js', {
      ...env,
      METRICS_PORT: String(port),
      PROVISION: 'false',
    });
    await waitUntil('worker ready', () => httpReady(port));
  });

  it('imports a file: later lines win, malformed lines are reported by number, exit 4', async () => {
    const file = join(tmpdir(), `kvflow-import-${process.pid}.txt`);
    const lines = ['alpha 1', 'beta two words', 'no-value', '', 'alpha 3', '\tindented x', 'gamma γ'];
    for (let i = 0; i < 3000; i++) lines.push(`bulk:${i % 1000} v${i}`);
    writeFileSync(file, lines.join('\n'));
    const res = await kvflow('import', file);
    expect(res.code).toBe(4);
    expect(res.output).toContain('published: 1003');
    expect(res.output).toContain('superseded by a later line: 2001');
    expect(res.output).toContain('line 3: no value');
    expect(res.output).toContain('line 6: line starts with whitespace');
    await drained();
    const state = await readAll(redis);
    expect(state.get('alpha')).toBe('3');
    expect(state.get('beta')).toBe('two words');
    expect(state.get('gamma')).toBe('γ');
    expect(state.get('bulk:999')).toBe('v2999');
    expect(state.size).toBe(1003);
  });

  it('rejects a missing file with exit 2', async () => {
    expect(await kvflow('import', '/no/such/file')).toMatchObject({
      code: 2,
      output: expect.stringContaining('no such file'),
    });
  });

  it('rejects a directory with exit 2, saying it is one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvflow-import-dir-'));
    const res = await kvflow('import', dir);
    expect(res.code).toBe(2);
    expect(res.output).toContain(`kvflow: ${dir} is a directory: give a file of "<key> <value>" lines`);
    expect(res.output).not.toContain('EISDIR');
  });

  it.each(['--version', '-V'])('prints its version with %s and exits 0', async (flag) => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'cli/package.json'), 'utf8')) as {
      version: string;
    };
    expect(await kvflow(flag)).toEqual({ code: 0, output: `${version}\n` });
  });

  it('says it cannot connect to Redis at its URL and why, exits as for NATS, and logs nothing', async () => {
    const port = await freePort(); // nothing listens there
    const run = async (override: Record<string, string>, args: string[]) => {
      const svc = spawnService('cli/dist/main.js', { ...env, ...override }, args);
      return { code: (await svc.exited).code, output: svc.output() };
    };
    const redisDown = await run({ REDIS_URL: `redis://127.0.0.1:${port}` }, ['get', 'k']);
    const natsDown = await run({ NATS_URL: `nats://127.0.0.1:${port}` }, ['set', 'k', 'v']);
    expect(redisDown.output).toBe(
      `kvflow: cannot connect to Redis at redis://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`,
    );
    expect(natsDown.output).toMatch(/^kvflow: cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: .+\n$/);
    expect(redisDown.code).toBe(natsDown.code);
    expect(redisDown.code).toBe(1);
  });

  it('sets, gets and deletes a key through the pipeline', async () => {
    expect((await kvflow('set', 'cli-key', 'hello there')).code).toBe(0);
    await drained();
    expect(await kvflow('get', 'cli-key')).toEqual({ code: 0, output: 'hello there' });
    expect((await kvflow('del', 'cli-key')).code).toBe(0);
    await drained();
    expect(await kvflow('get', 'cli-key')).toMatchObject({
      code: 3,
      output: expect.stringContaining('not found'),
    });
    expect(await kvflow('get', 'bad key')).toMatchObject({
      code: 2,
      output: expect.stringContaining('whitespace'),
    });
  });

  it('lists and replays dead letters', async () => {
    const settings = settingsFor(env);
    const ack = await jetstream(nc).publish(settings.subject, '{"v":7}');
    await drained();
    const list = await kvflow('dead-letters', 'list', '--json');
    expect(list.code).toBe(0);
    const letters = list.output
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; originalSeq: number; reason: string });
    expect(letters).toEqual([
      expect.objectContaining({ originalSeq: ack.seq, reason: 'unknown event version 7' }),
    ]);
    const seq = letters[0]?.seq as number;
    expect(await kvflow('dead-letters', 'replay', '999')).toMatchObject({ code: 3 });
    const replay = await kvflow('dead-letters', 'replay', String(seq));
    expect(replay).toMatchObject({
      code: 0,
      output: expect.stringContaining(`replayed dead letter #${seq}`),
    });
    await drained();
    // Still poison, so it is dead-lettered again (as a new entry), and the old entry is gone.
    const again = (await kvflow('dead-letters', 'list', '--json')).output.trim().split('\n');
    expect(again).toHaveLength(1);
    expect(JSON.parse(again[0] as string).seq).not.toBe(seq);
  });

  it('rebuilds Redis from the stream after Redis lost everything', async () => {
    const before = await readAll(redis);
    expect(before.size).toBeGreaterThan(1000);
    await redis.flushall();
    const res = await kvflow('rebuild', '--reset');
    expect(res.code).toBe(0);
    // The running worker notices the flush too (its data-loss check) and may repair part or all of it first: the
    // rebuild then finds those events current. Either way every valid event is accounted for once.
    const m = /seq 1\.\.(\d+) \(after reset\): applied (\d+), already current (\d+), skipped invalid 2/.exec(
      res.output,
    );
    expect(m, res.output).not.toBeNull();
    expect(Number(m?.[2]) + Number(m?.[3]) + 2).toBe(Number(m?.[1]));
    expect(await readAll(redis)).toEqual(before);
    // Replaying again changes nothing: every event is already current.
    expect((await kvflow('rebuild')).output).toMatch(/applied 0, already current \d+/);
  });

  it('shows status and exits 2 on bad usage or configuration', async () => {
    expect((await kvflow('status', '--json')).output).toContain('"lag":0');
    expect((await kvflow('rebuild', '--from-seq', 'zero')).code).toBe(2);
    const bad = spawnService('cli/dist/main.js', { ...env, NATS_URL: 'http://nope' }, ['status']);
    expect((await bad.exited).code).toBe(2);
    expect(bad.output()).toContain('NATS_URL="http://nope" is invalid');
  });
});
