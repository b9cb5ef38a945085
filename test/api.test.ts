import {
  connectNats,
  connectRedis,
  createLogger,
  createRegistry,
  type NatsConnection,
  Publisher,
  provision,
  Readiness,
} from '@kvflow/common';
import { buildApi, createProducerMetrics, publisherMetrics } from '@kvflow/producer';
import {
  connectionFor,
  consumerLag,
  freePort,
  httpReady,
  type NatsServer,
  type RedisServer,
  type Service,
  serviceEnv,
  settingsFor,
  spawnService,
  startNats,
  startRedis,
  waitUntil,
} from '@kvflow/testkit';
import { jetstream } from '@nats-io/jetstream';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const TOKEN = 's3cret-token';
const MAX_VALUE = 1024;
let nats: NatsServer;
let redisServer: RedisServer;
let nc: NatsConnection;
let redis: Redis;
let app: FastifyInstance;
let worker: Service;
let env: Record<string, string>;

beforeAll(async () => {
  [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
  env = serviceEnv(nats, redisServer, { VALUE_MAX_BYTES: String(MAX_VALUE) });
  const log = createLogger('api-test', 'silent');
  const settings = settingsFor(env);
  nc = await connectNats(connectionFor(env), log, 'api-test');
  redis = await connectRedis(connectionFor(env), log, 'api-test');
  await provision(nc, settings);
  const registry = createRegistry();
  const publisher = new Publisher(
    nc,
    { subject: settings.subject, maxInFlight: 64, timeoutMs: 1000, retries: 1 },
    publisherMetrics(createProducerMetrics(registry)),
  );
  const readiness = new Readiness(['nats']);
  readiness.set('nats', true);
  app = await buildApi({ publisher, redis, registry, readiness, apiToken: TOKEN, valueMaxBytes: MAX_VALUE });
  const port = await freePort();
  worker = spawnService('consumer/dist/main.js', { ...env, METRICS_PORT: String(port) });
  await waitUntil('worker ready', () => httpReady(port));
});
afterAll(async () => {
  worker?.child.kill('SIGKILL');
  await app?.close();
  await nc?.close();
  redis?.disconnect();
  await Promise.all([nats?.stop(), redisServer?.stop()]);
});

const auth = { authorization: `Bearer ${TOKEN}` };
const put = (key: string, body: string | Buffer, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'PUT',
    url: `/keys/${key}`,
    payload: body,
    headers: { 'content-type': 'text/plain', ...auth, ...headers },
  });

async function applied(): Promise<void> {
  await waitUntil('worker caught up', async () => {
    const lag = await consumerLag(nc, settingsFor(env));
    return lag.pending === 0 && lag.ackPending === 0;
  });
}

describe('HTTP API', () => {
  it('accepts a write with 202 {id, seq}, applies it, and serves it', async () => {
    const res = await put('greeting', 'hello, wörld');
    expect(res.statusCode).toBe(202);
    const body = res.json() as { id: string; seq: number };
    expect(body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.seq).toBeGreaterThan(0);
    await applied();
    const got = await app.inject({ method: 'GET', url: '/keys/greeting' });
    expect(got.statusCode).toBe(200);
    expect(got.headers['content-type']).toContain('text/plain');
    expect(got.body).toBe('hello, wörld');
  });

  it('stores keys with reserved URL characters when percent-encoded, and values as raw bytes', async () => {
    expect(
      (
        await put(encodeURIComponent('a/b?c#d'), Buffer.from('bytes'), {
          'content-type': 'application/octet-stream',
        })
      ).statusCode,
    ).toBe(202);
    expect((await put('empty', '')).statusCode).toBe(202);
    await applied();
    expect((await app.inject({ method: 'GET', url: `/keys/${encodeURIComponent('a/b?c#d')}` })).body).toBe(
      'bytes',
    );
    const empty = await app.inject({ method: 'GET', url: '/keys/empty' });
    expect(empty.statusCode).toBe(200);
    expect(empty.body).toBe('');
  });

  it('deletes with 202 and then answers 404', async () => {
    await put('doomed', 'x');
    const del = await app.inject({ method: 'DELETE', url: '/keys/doomed', headers: auth });
    expect(del.statusCode).toBe(202);
    await applied();
    const got = await app.inject({ method: 'GET', url: '/keys/doomed' });
    expect(got.statusCode).toBe(404);
    expect(got.json()).toEqual({ error: 'not_found', message: 'key "doomed" not found' });
  });

  it('lists keys by prefix, page by page', async () => {
    for (let i = 0; i < 25; i++) await put(`list:${String(i).padStart(2, '0')}`, 'v');
    await put('other', 'v');
    await applied();
    const seen = new Set<string>();
    let cursor: string | null = '0';
    let pages = 0;
    while (cursor !== null && pages < 50) {
      const res = await app.inject({ method: 'GET', url: `/keys?prefix=list:&limit=10&cursor=${cursor}` });
      expect(res.statusCode).toBe(200);
      const page = res.json() as { keys: string[]; cursor: string | null };
      for (const k of page.keys) seen.add(k);
      cursor = page.cursor;
      pages++;
    }
    expect([...seen].sort()).toEqual(
      Array.from({ length: 25 }, (_, i) => `list:${String(i).padStart(2, '0')}`),
    );
  });

  it.each([
    ['whitespace in the key', 'a%20b', 'key contains whitespace or a control character'],
    ['a control character in the key', 'a%07b', 'key contains whitespace or a control character'],
    ['a key over 512 bytes', 'k'.repeat(513), 'key is 513 bytes; the maximum is 512'],
  ])('answers 400 for %s', async (_what, key, message) => {
    const res = await put(key, 'v');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'bad_key', message });
  });

  it('accepts a key of exactly 512 bytes (multi-byte, percent-encoded)', async () => {
    expect((await put(encodeURIComponent('é'.repeat(256)), 'v')).statusCode).toBe(202);
  });

  it('answers 413 for a value over the limit, and accepts one at the limit', async () => {
    expect((await put('big', 'x'.repeat(MAX_VALUE))).statusCode).toBe(202);
    const res = await put('big', 'x'.repeat(MAX_VALUE + 1));
    expect(res.statusCode).toBe(413);
    expect(res.json().error).toBe('value_too_large');
  });

  it('answers 400 for a value that is not UTF-8', async () => {
    const res = await put('bin', Buffer.from([0xff, 0xfe]), { 'content-type': 'application/octet-stream' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'bad_value', message: 'value is not valid UTF-8' });
  });

  it.each(['application/json', 'application/x-www-form-urlencoded'])('answers 415 for %s', async (type) => {
    const res = await put('k', '{"a":1}', { 'content-type': type });
    expect(res.statusCode).toBe(415);
    expect(res.json().message).toBe('send the value as text/plain or application/octet-stream');
  });

  it('answers 415 when the content type is missing', async () => {
    const res = await app.inject({ method: 'PUT', url: '/keys/k', headers: auth });
    expect(res.statusCode).toBe(415);
  });

  it.each([
    ['no token', {}],
    ['a wrong token', { authorization: 'Bearer nope' }],
    ['a non-bearer scheme', { authorization: `Basic ${TOKEN}` }],
  ])('answers 401 to writes with %s', async (_what, headers) => {
    const res = await app.inject({ method: 'DELETE', url: '/keys/k', headers });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });

  it('lets reads through without a token', async () => {
    expect((await app.inject({ method: 'GET', url: '/keys/nothing-here' })).statusCode).toBe(404);
  });

  it.each(['limit=0', 'limit=1001', 'limit=x', 'cursor=abc'])(
    'answers 400 to a bad listing query %s',
    async (q) => {
      const res = await app.inject({ method: 'GET', url: `/keys?${q}` });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe('bad_request');
    },
  );

  it('serves OpenAPI docs describing every route', async () => {
    expect((await app.inject({ method: 'GET', url: '/docs/' })).statusCode).toBe(200);
    const spec = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as {
      paths: Record<string, object>;
    };
    expect(Object.keys(spec.paths).sort()).toEqual(['/keys', '/keys/{key}']);
  });

  it('serves metrics with the kvflow_ names', async () => {
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/kvflow_events_produced_total\{src="api"\} \d+/);
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  // Last: stops NATS.
  it('answers 503 with Retry-After, never a false 202, when NATS is down', async () => {
    await nats.pause();
    await waitUntil('client noticed the outage', async () => {
      const res = await put('k', 'v');
      return res.statusCode === 503;
    });
    const res = await put('k', 'v');
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.json().error).toBe('unavailable');
  });
});
