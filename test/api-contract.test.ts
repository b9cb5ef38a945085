import {
  applyFenced,
  connectNats,
  connectRedis,
  createLogger,
  createRegistry,
  type NatsConnection,
  Publisher,
  provision,
  Readiness,
  type Redis,
  readConsumerLag,
  readEntry,
} from '@kvflow/common';
import { buildApi, ERROR_CATALOG } from '@kvflow/producer';
import {
  freePort,
  httpReady,
  type NatsServer,
  type RedisServer,
  type ServiceProcess,
  startNats,
  startRedis,
  waitUntil,
} from '@kvflow/stack';
import { connectionFor, consumerLag, serviceEnv, settingsFor, spawnService } from '@kvflow/testkit';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The client contract beyond the basics of api.test.ts: error classes (4xx vs outage), the OpenAPI document,
 * 405s, content types stored with values, read-your-writes, protected reads, and a full stream. Real servers.
 */

const TOKEN = 'contract-token';
const MAX_VALUE = 1024;
let nats: NatsServer;
let redisServer: RedisServer;
let nc: NatsConnection;
let redis: Redis;
let app: FastifyInstance;
let readsApp: FastifyInstance;
let fullApp: FastifyInstance;
let worker: ServiceProcess;
let env: Record<string, string>;

const fullEnv = (base: Record<string, string>) => ({
  ...base,
  STREAM_NAME: 'FULL',
  STREAM_SUBJECT: 'full.events',
  CONSUMER_NAME: 'full-workers',
  DLQ_STREAM_NAME: 'FULL_DLQ',
  DLQ_SUBJECT: 'full.dlq',
  STREAM_MAX_BYTES: '2048',
});

beforeAll(async () => {
  [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
  env = serviceEnv(nats, redisServer, { VALUE_MAX_BYTES: String(MAX_VALUE) });
  const log = createLogger('api-contract-test', 'silent');
  const settings = settingsFor(env);
  nc = await connectNats(connectionFor(env), log, 'api-contract-test');
  redis = await connectRedis(connectionFor(env), log, 'api-contract-test');
  await provision(nc, settings);
  const readiness = new Readiness(['nats', 'redis']);
  readiness.set('nats', true);
  readiness.set('redis', true);
  // The producer's defaults (PUBLISH_TIMEOUT_MS, PUBLISH_RETRIES): CI runs this beside the demo tests.
  const publisher = new Publisher(nc, {
    subject: settings.subject,
    maxInFlight: 64,
    timeoutMs: 2000,
    retries: 2,
  });
  const base = { publisher, redis, readiness, valueMaxBytes: MAX_VALUE };
  app = await buildApi({
    ...base,
    registry: createRegistry(),
    apiToken: TOKEN,
    consumerLag: () => readConsumerLag(nc, settings),
  });
  readsApp = await buildApi({ ...base, registry: createRegistry(), apiToken: TOKEN, apiTokenReads: true });

  // A tiny stream (2 KiB, discard new) with no worker: it fills after a few writes.
  const full = settingsFor(fullEnv(env));
  await provision(nc, full);
  const fullPublisher = new Publisher(nc, {
    subject: full.subject,
    maxInFlight: 8,
    timeoutMs: 1000,
    retries: 5,
  });
  fullApp = await buildApi({
    ...base,
    publisher: fullPublisher,
    registry: createRegistry(),
    apiToken: undefined,
    consumerLag: () => readConsumerLag(nc, full),
  });

  const port = await freePort();
  worker = spawnService('consumer/dist/main.js', { ...env, METRICS_PORT: String(port) });
  await waitUntil('worker ready', () => httpReady(port));
});
afterAll(async () => {
  worker?.child.kill('SIGKILL');
  await Promise.all([app?.close(), readsApp?.close(), fullApp?.close()]);
  await nc?.close();
  redis?.disconnect();
  await Promise.all([nats?.stop(), redisServer?.stop()]);
});

const auth = { authorization: `Bearer ${TOKEN}` };
const put = (key: string, body: string | Buffer, headers: Record<string, string> = {}, target = app) =>
  target.inject({
    method: 'PUT',
    url: `/keys/${key}`,
    payload: body,
    headers: { 'content-type': 'text/plain', ...auth, ...headers },
  });
const get = (url: string, target = app, headers: Record<string, string> = {}) =>
  target.inject({ method: 'GET', url, headers });

async function applied(): Promise<void> {
  await waitUntil('worker caught up', async () => {
    const lag = await consumerLag(nc, settingsFor(env));
    return lag.pending === 0 && lag.ackPending === 0;
  });
}

describe('client errors are 4xx, outages 503', () => {
  it.each([
    '99999999999999999999999',
    '18446744073709551616', // 2^64
    '007',
  ])('answers 400 bad_request to the list cursor %s', async (cursor) => {
    const res = await get(`/keys?cursor=${cursor}`);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('bad_request');
  });

  it('takes the largest unsigned 64-bit cursor', async () => {
    const res = await get('/keys?cursor=18446744073709551615');
    expect(res.statusCode).toBe(200);
  });

  it('reports a Redis error reply as a server error (500), not as an outage', async () => {
    await redis.set('kv:not-a-hash', 'x'); // WRONGTYPE for HGET: Redis answered, it is not down
    const res = await get('/keys/not-a-hash');
    expect(res.statusCode).toBe(500);
    expect(res.json().error).toBe('internal');
    expect(res.headers['retry-after']).toBeUndefined();
  });
});

type Json = Record<string, unknown>;
function walk(node: unknown, visit: (obj: Json, path: string) => void, path = '#'): void {
  if (Array.isArray(node)) {
    for (const [i, n] of node.entries()) walk(n, visit, `${path}/${i}`);
  } else if (node && typeof node === 'object') {
    visit(node as Json, path);
    for (const [k, v] of Object.entries(node)) walk(v, visit, `${path}/${k}`);
  }
}

describe('the OpenAPI document describes the API exactly', () => {
  let spec: {
    openapi: string;
    paths: Record<
      string,
      Record<string, { parameters?: Json[]; responses: Record<string, Json>; requestBody?: Json }>
    >;
  };
  beforeAll(async () => {
    spec = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
  });

  it('is OpenAPI 3.0.3 throughout: no numeric exclusiveMinimum/Maximum, no type arrays', () => {
    expect(spec.openapi).toBe('3.0.3');
    const bad: string[] = [];
    walk(spec, (obj, path) => {
      for (const k of ['exclusiveMinimum', 'exclusiveMaximum'])
        if (k in obj && typeof obj[k] !== 'boolean') bad.push(`${path}/${k}`);
      if (Array.isArray(obj.type)) bad.push(`${path}/type`);
    });
    expect(bad).toEqual([]);
  });

  it('documents every error answer as the JSON error body, the value as its media types', () => {
    const read = spec.paths['/keys/{key}']?.get;
    expect(Object.keys(read?.responses['404']?.content as Json)).toEqual(['application/json']);
    for (const [path, ops] of Object.entries(spec.paths))
      for (const [method, op] of Object.entries(ops))
        for (const [status, res] of Object.entries(op.responses))
          if (Number(status) >= 400)
            expect(Object.keys(res.content as Json), `${method} ${path} ${status}`).toEqual([
              'application/json',
            ]);
    expect(Object.keys(read?.responses['200']?.content as Json)).toEqual([
      'text/plain',
      'text/*',
      'application/*',
    ]);
    const body = spec.paths['/keys/{key}']?.put?.requestBody?.content as Json;
    expect(Object.keys(body)).toEqual(
      expect.arrayContaining(['text/plain', 'application/json', 'application/octet-stream']),
    );
  });

  it('puts the key rules into the key parameter schema', () => {
    const param = spec.paths['/keys/{key}']?.get?.parameters?.find((p) => p.name === 'key');
    const schema = param?.schema as { minLength: number; maxLength: number; pattern: string };
    expect(schema).toMatchObject({ type: 'string', minLength: 1, maxLength: 512 });
    const re = new RegExp(schema.pattern, 'u');
    for (const ok of ['k', 'user:42/profile', 'ключ', '🔑']) expect(re.test(ok), ok).toBe(true);
    for (const bad of ['a b', 'a\tb', 'a\u0007b', 'a\u00a0b', 'a\u2028b', 'a\ufeffb', 'a\u0085b'])
      expect(re.test(bad), JSON.stringify(bad)).toBe(false);
    expect(param?.description).toContain('512 bytes');
  });

  it('catalogues method_not_allowed as 405', () => {
    expect(ERROR_CATALOG.method_not_allowed.status).toBe(405);
  });

  it.each([
    ['PATCH', '/keys/x', ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PUT']],
    ['POST', '/keys/x', ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PUT']],
    ['DELETE', '/keys', ['GET', 'HEAD', 'OPTIONS']],
    ['PUT', '/keys', ['GET', 'HEAD', 'OPTIONS']],
    ['POST', '/keys', ['GET', 'HEAD', 'OPTIONS']],
  ] as const)('answers %s %s with 405, Allow and the catalogued error', async (method, url, allow) => {
    const res = await app.inject({
      method,
      url,
      payload: 'x',
      headers: { ...auth, 'content-type': 'image/png' },
    });
    expect(res.statusCode).toBe(405);
    expect(
      String(res.headers.allow)
        .split(',')
        .map((m) => m.trim())
        .sort(),
    ).toEqual(allow);
    expect(res.json()).toMatchObject({ error: 'method_not_allowed' });
    expect(res.headers['content-type']).toContain('application/json');
  });

  it('answers OPTIONS with 204 and Allow', async () => {
    const res = await app.inject({ method: 'OPTIONS', url: '/keys/x' });
    expect(res.statusCode).toBe(204);
    expect(res.headers.allow).toBe('DELETE, GET, HEAD, OPTIONS, PUT');
  });
});

describe('bearer token', () => {
  it('takes a lower-case "bearer" scheme for PUT and DELETE', async () => {
    const lower = { authorization: `bearer ${TOKEN}` };
    expect((await put('lower-bearer', 'v', lower)).statusCode).toBe(202);
    expect(
      (await app.inject({ method: 'DELETE', url: '/keys/lower-bearer', headers: lower })).statusCode,
    ).toBe(202);
    expect((await put('lower-bearer', 'v', { authorization: `bearer ${TOKEN}x` })).statusCode).toBe(401);
  });

  it('protects reads too with apiTokenReads, and leaves the ops endpoints open', async () => {
    for (const url of ['/keys/anything', '/keys']) {
      const res = await get(url, readsApp);
      expect(res.statusCode, url).toBe(401);
      expect(res.json().error).toBe('unauthorized');
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect((await get(url, readsApp, { authorization: 'Bearer wrong' })).statusCode).toBe(401);
    }
    expect((await get('/keys/anything', readsApp, auth)).statusCode).toBe(404);
    expect((await get('/keys', readsApp, { authorization: `bearer ${TOKEN}` })).statusCode).toBe(200);
    expect((await get('/healthz', readsApp)).statusCode).toBe(200);
    // Without the setting, reads stay open.
    expect((await get('/keys/anything')).statusCode).toBe(404);
  });
});

describe('values carry their media type', () => {
  it('stores application/json and serves it with its content type', async () => {
    expect((await put('doc', '{"a":[1,2]}', { 'content-type': 'application/json' })).statusCode).toBe(202);
    expect((await put('csv', 'a,b\n1,2\n', { 'content-type': 'text/csv; charset=utf-8' })).statusCode).toBe(
      202,
    );
    expect((await put('problem', '{"x":1}', { 'content-type': 'application/problem+json' })).statusCode).toBe(
      202,
    );
    await applied();
    const doc = await get('/keys/doc');
    expect(doc.statusCode).toBe(200);
    expect(doc.headers['content-type']).toBe('application/json');
    expect(doc.body).toBe('{"a":[1,2]}');
    expect((await get('/keys/csv')).headers['content-type']).toBe('text/csv; charset=utf-8');
    expect((await get('/keys/problem')).headers['content-type']).toBe('application/problem+json');
  });

  it('stores a form post (curl -d) as the raw text, like Consul and etcd', async () => {
    const res = await put('curl', 'v=1&w', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.statusCode).toBe(202);
    await applied();
    const got = await get('/keys/curl');
    expect(got.body).toBe('v=1&w');
    expect(got.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  it('drops a stored type when a later write has none, and on delete', async () => {
    // Each read waits for its own write (min_seq), and every write must have been accepted: a write refused
    // under load (503) would otherwise show up as a wrong type much later.
    const typeAfter = async (res: Awaited<ReturnType<typeof put>>) => {
      expect(res.statusCode, res.body).toBe(202);
      const got = await get(`/keys/retyped?min_seq=${res.json().seq}&wait_ms=10000`);
      expect(got.statusCode, got.body).toBe(200);
      return got.headers['content-type'];
    };
    expect(await typeAfter(await put('retyped', '[]', { 'content-type': 'application/json' }))).toBe(
      'application/json',
    );
    expect(await typeAfter(await put('retyped', 'plain now'))).toBe('text/plain; charset=utf-8');
    expect((await put('retyped', '{}', { 'content-type': 'application/json' })).statusCode).toBe(202);
    expect((await app.inject({ method: 'DELETE', url: '/keys/retyped', headers: auth })).statusCode).toBe(
      202,
    );
    expect(await typeAfter(await put('retyped', 'x', { 'content-type': 'application/octet-stream' }))).toBe(
      'application/octet-stream',
    );
  });

  it.each([
    ['application/json', 'not json', 400, 'bad_value'],
    ['image/png', 'x', 415, 'unsupported_media_type'],
    ['multipart/form-data; boundary=x', 'x', 415, 'unsupported_media_type'],
    ['text/plain; charset=iso-8859-1', 'x', 415, 'unsupported_media_type'],
    ['text', 'x', 415, 'unsupported_media_type'],
  ])('refuses %s (body %s) with %i', async (type, body, status, error) => {
    const res = await put('typed', body, { 'content-type': type });
    expect(res.statusCode).toBe(status);
    expect(res.json().error).toBe(error);
  });

  it('keeps the type with the fence: a stale write changes neither value nor type', async () => {
    await applyFenced(
      redis,
      [{ key: 'fenced', op: 'set', value: '{}', contentType: 'application/json', seq: 10 }],
      60_000,
    );
    expect(
      await applyFenced(
        redis,
        [{ key: 'fenced', op: 'set', value: 'old', contentType: 'text/csv', seq: 9 }],
        60_000,
      ),
    ).toEqual(['stale']);
    expect(await readEntry(redis, 'fenced')).toEqual({
      value: '{}',
      contentType: 'application/json',
      seq: 10,
    });
    await applyFenced(redis, [{ key: 'fenced', op: 'del', seq: 11 }], 60_000);
    expect(await readEntry(redis, 'fenced')).toEqual({ value: null, contentType: null, seq: 11 });
    expect(await redis.hkeys('kv:fenced')).toEqual(['s']);
  });
});

describe('read your writes: GET /keys/:key?min_seq=', () => {
  it('waits until the write is applied, then answers as usual', async () => {
    const seq = (await put('ryw', 'mine')).json().seq as number;
    worker.child.kill('SIGSTOP'); // the write cannot be applied until the worker continues
    try {
      // The event may have been applied before the pause: write again while the worker is stopped.
      const seq2 = (await put('ryw', 'mine again')).json().seq as number;
      expect(seq2).toBeGreaterThan(seq);
      const started = Date.now();
      const reading = get(`/keys/ryw?min_seq=${seq2}&wait_ms=8000`);
      await new Promise((r) => setTimeout(r, 500));
      worker.child.kill('SIGCONT');
      const res = await reading;
      expect(res.statusCode).toBe(200);
      expect(res.body).toBe('mine again');
      expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    } finally {
      worker.child.kill('SIGCONT');
    }
  });

  it('answers 409 not_yet_applied with the applied sequence when the wait runs out', async () => {
    const seq = (await put('ryw-late', 'v')).json().seq as number;
    const started = Date.now();
    const res = await get(`/keys/ryw-late?min_seq=${seq + 1_000_000}&wait_ms=300`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(res.statusCode).toBe(409);
    const body = res.json();
    expect(body.error).toBe('not_yet_applied');
    expect(body.applied_seq).toBeGreaterThanOrEqual(0);
    expect(body.applied_seq).toBeLessThanOrEqual(seq);
  });

  it('says in a 409 whether any worker is running: one pulls here, none on a stream without workers', async () => {
    const seq = (await put('ryw-workers', 'v')).json().seq as number;
    const running = await get(`/keys/ryw-workers?min_seq=${seq + 1_000_000}&wait_ms=50`);
    expect(running.statusCode).toBe(409);
    expect(running.json()).toMatchObject({ workers_running: true, pending: 0 });
    expect(running.json().message).toMatch(/workers are running \(0 events waiting, 0 being applied\)/);
    // The tiny stream has no worker: its event waits, and the answer says who would pick it up.
    const unapplied = await fullApp.inject({
      method: 'PUT',
      url: '/keys/nobody-pulls',
      headers: { 'content-type': 'text/plain' },
      payload: 'v',
    });
    expect(unapplied.statusCode).toBe(202);
    const idle = await fullApp.inject({
      method: 'GET',
      url: `/keys/nobody-pulls?min_seq=${unapplied.json().seq}&wait_ms=50`,
    });
    expect(idle.statusCode).toBe(409);
    expect(idle.json()).toMatchObject({ error: 'not_yet_applied', workers_running: false });
    expect(idle.json().pending).toBeGreaterThanOrEqual(1);
    expect(idle.json().message).toMatch(
      /no worker is running .*the autoscaler starts one once it sees the \d+ events waiting/,
    );
  });

  it('sees a delete as applied: 404 once the tombstone reaches min_seq', async () => {
    await put('ryw-del', 'v');
    const seq = (await app.inject({ method: 'DELETE', url: '/keys/ryw-del', headers: auth })).json().seq;
    const res = await get(`/keys/ryw-del?min_seq=${seq}`);
    expect(res.statusCode).toBe(404);
  });

  it.each(['min_seq=0', 'min_seq=x', 'min_seq=1&wait_ms=10001', 'min_seq=1&wait_ms=-1'])(
    'answers 400 to %s',
    async (q) => {
      const res = await get(`/keys/k?${q}`);
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe('bad_request');
    },
  );
});

describe('a full stream', () => {
  it('answers 507 stream_full at once, without Retry-After, and never a false 202', async () => {
    const fill = async (write: (i: number) => ReturnType<typeof put>) => {
      let accepted = 0;
      let res = await write(0);
      while (res.statusCode === 202 && accepted < 100) res = await write(++accepted);
      return { accepted, res };
    };
    const puts = await fill((i) => put(`fill-${i}`, 'x'.repeat(200), {}, fullApp));
    expect(puts.accepted).toBeGreaterThan(0);
    expect(puts.accepted).toBeLessThan(20);
    expect(puts.res.statusCode).toBe(507);
    const started = Date.now();
    const res = await put('one-more', 'x'.repeat(200), {}, fullApp);
    const took = Date.now() - started;
    expect(res.statusCode).toBe(507);
    expect(res.json()).toEqual({
      error: 'stream_full',
      message: 'the stream refused the event: maximum bytes exceeded',
    });
    expect(res.headers['retry-after']).toBeUndefined();
    // No retries: the publisher is set to retry 5 times with backoff (>= 1.5 s) for outages.
    expect(took).toBeLessThan(500);
    // Deletes are smaller and may still fit for a while; then they are refused the same way.
    const dels = await fill((i) => fullApp.inject({ method: 'DELETE', url: `/keys/fill-${i}` }));
    expect(dels.accepted).toBeLessThan(20);
    expect(dels.res.statusCode).toBe(507);
    expect(dels.res.json().error).toBe('stream_full');
  });
});
