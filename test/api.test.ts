import { connect as connectTcp } from 'node:net';
import {
  connectNats,
  connectRedis,
  createLogger,
  createRegistry,
  type Logger,
  type NatsConnection,
  Publisher,
  provision,
  Readiness,
  type Redis,
} from '@kvflow/common';
import { buildApi, createProducerMetrics, publisherMetrics, RateGenerator } from '@kvflow/producer';
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
import type { FastifyInstance, InjectOptions } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const TOKEN = 's3cret-token';
const MAX_VALUE = 1024;
let nats: NatsServer;
let redisServer: RedisServer;
let nc: NatsConnection;
let redis: Redis;
let app: FastifyInstance;
let worker: ServiceProcess;
let env: Record<string, string>;
let generator: RateGenerator;

beforeAll(async () => {
  [nats, redisServer] = await Promise.all([startNats(), startRedis()]);
  env = serviceEnv(nats, redisServer, { VALUE_MAX_BYTES: String(MAX_VALUE) });
  const log = createLogger('api-test', 'silent');
  const settings = settingsFor(env);
  nc = await connectNats(connectionFor(env), log, 'api-test');
  redis = await connectRedis(connectionFor(env), log, 'api-test');
  await provision(nc, settings);
  const registry = createRegistry();
  const metrics = createProducerMetrics(registry);
  const publisher = new Publisher(
    nc,
    { subject: settings.subject, maxInFlight: 64, timeoutMs: 1000, retries: 1 },
    publisherMetrics(metrics),
  );
  const readiness = new Readiness(['nats']);
  readiness.set('nats', true);
  // As the producer runs it: with its rate generator (off until PUT /rate), so the API has its rate routes too.
  generator = new RateGenerator(
    { profile: { kind: 'constant', rate: 0 }, keySpace: 50, valueSize: 16, deleteRatio: 0.1 },
    publisher,
    log,
    metrics,
  );
  generator.start();
  app = await buildApi({
    publisher,
    redis,
    registry,
    readiness,
    apiToken: TOKEN,
    valueMaxBytes: MAX_VALUE,
    generator,
  });
  const port = await freePort();
  worker = spawnService('consumer/dist/main.js', { ...env, METRICS_PORT: String(port) });
  await waitUntil('worker ready', () => httpReady(port));
});
afterAll(async () => {
  generator?.stop();
  worker?.child.kill('SIGKILL');
  await app?.close();
  await nc?.close();
  redis?.disconnect();
  await Promise.all([nats?.stop(), redisServer?.stop()]);
});

const auth = { authorization: `Bearer ${TOKEN}` };

type RateBody = {
  profile: Record<string, unknown>;
  description: string;
  target_rate: number;
  actual_rate: number;
};
type JsonSchema = {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  nullable?: boolean;
};
type OpenApi = {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema?: JsonSchema }> }> }>
  >;
};

/** "METHOD /path" for every route Fastify routes (its own route table, printed without common prefixes). */
function routeTable(app: FastifyInstance): string[] {
  const routes: string[] = [];
  const parents: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)[├└]── (.+?)(?: \(([^)]*)\))?$/.exec(line);
    if (!m) continue;
    const depth = (m[1] as string).length / 4;
    const path = (depth > 0 ? (parents[depth - 1] as string) : '') + (m[2] as string);
    parents[depth] = path;
    for (const method of (m[3] ?? '').split(', ').filter(Boolean)) routes.push(`${method} ${path}`);
  }
  return routes;
}

/** Where `value` breaks the (OpenAPI 3.0 subset of) JSON schema the route documents. */
function schemaProblems(value: unknown, s: JsonSchema, at = '$'): string[] {
  if (value === null) return s.nullable ? [] : [`${at}: null`];
  if (s.enum && !s.enum.includes(value)) return [`${at}: ${JSON.stringify(value)} not in enum`];
  const type = Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value;
  if (s.type && !(s.type === type || (s.type === 'number' && type === 'integer')))
    return [`${at}: ${type}, documented ${s.type}`];
  const problems: string[] = [];
  if (type === 'object') {
    const o = value as Record<string, unknown>;
    for (const k of s.required ?? []) if (!(k in o)) problems.push(`${at}.${k}: missing`);
    for (const [k, sub] of Object.entries(s.properties ?? {}))
      if (k in o) problems.push(...schemaProblems(o[k], sub, `${at}.${k}`));
  }
  if (type === 'array' && s.items) {
    const items = value as unknown[];
    for (let i = 0; i < items.length; i++) problems.push(...schemaProblems(items[i], s.items, `${at}[${i}]`));
  }
  return problems;
}
const put = (key: string, body: string | Buffer, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'PUT',
    url: `/keys/${key}`,
    payload: body,
    headers: { 'content-type': 'text/plain', ...auth, ...headers },
  });

/** An API with no NATS, and the Redis client given (or none), logging to `log`. */
function bareApi(redis: Redis | undefined, log?: Logger): Promise<FastifyInstance> {
  return buildApi({
    publisher: () => undefined,
    redis: () => redis,
    registry: createRegistry(),
    readiness: new Readiness([]),
    apiToken: undefined,
    valueMaxBytes: MAX_VALUE,
    log,
  });
}

/** Sends `request` as it is over TCP; the status and JSON body of the answer (the server then closes). */
function rawHttp(port: number, request: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      answer += d;
    });
    // The server may close while the request is still being written: what it answered is what counts.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3}) [^\r]*\r\n[\s\S]*?\r\n\r\n([\s\S]*)$/.exec(answer);
      if (!m) reject(new Error(`no HTTP answer: ${JSON.stringify(answer.slice(0, 200))}`));
      else resolve({ status: Number(m[1]), body: JSON.parse(m[2] as string) });
    });
    socket.end(request);
  });
}

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

  it.each([
    ['a value just over the limit', MAX_VALUE + 1],
    ['a 70 KB value', 70_000],
    ['a 5 MB value', 5_000_000],
  ])('answers %s with the catalog 413, naming the limit and VALUE_MAX_BYTES', async (_what, n) => {
    const res = await put('big', 'x'.repeat(n));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({
      error: 'value_too_large',
      message: `value is ${n} bytes; the maximum is ${MAX_VALUE} (VALUE_MAX_BYTES)`,
    });
  });

  it.each([
    ['over the router parameter limit', 'k'.repeat(3000), 'key is 3000 bytes; the maximum is 512'],
    ['of 10 KB', 'k'.repeat(10_000), 'key is 10000 bytes; the maximum is 512'],
    [
      'that is not valid percent-encoding',
      '%E0%A4%A',
      'key is not valid percent-encoded UTF-8 (send "%" itself as %25)',
    ],
  ])('answers a key %s in the URL with the catalog 400 bad_key', async (_what, key, message) => {
    for (const res of [await put(key, 'v'), await app.inject({ method: 'GET', url: `/keys/${key}` })]) {
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: 'bad_key', message });
    }
  });

  it("answers a request over Node.js's header limit (a 100 KB key, a 20 KB header) with the catalog 431", async () => {
    // Node's HTTP parser refuses these before fastify: only a listening server shows what the client gets.
    const server = await bareApi(undefined);
    await server.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = server.server.address() as { port: number };
      const longKey = await rawHttp(
        port,
        `PUT /keys/${'k'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\nv`,
      );
      expect(longKey.status).toBe(431);
      expect(longKey.body).toEqual({
        error: 'headers_too_large',
        message:
          "the request line and headers are over 16384 bytes, the server's limit: the key in this URL is far " +
          'over the key limit of 512 bytes',
      });
      const bigHeader = await rawHttp(
        port,
        `GET /keys/k HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      );
      expect(bigHeader.status).toBe(431);
      expect(bigHeader.body).toEqual({
        error: 'headers_too_large',
        message: "the request line and headers are over 16384 bytes, the server's limit",
      });
      const notHttp = await rawHttp(port, 'HELLO\r\n\r\n');
      expect(notHttp.status).toBe(400);
      expect(notHttp.body).toMatchObject({ error: 'bad_request' });
    } finally {
      await server.close();
    }
  });

  it("answers a Redis failure with 503 in kvflow's words; the client library's words only in the log", async () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const broken = await connectRedis(
      connectionFor(env),
      createLogger('api-test', 'silent'),
      'api-test-broken',
    );
    broken.disconnect();
    const server = await bareApi(broken, log);
    try {
      for (const url of ['/keys/k', '/keys?prefix=a', '/keys/k']) {
        const res = await server.inject({ method: 'GET', url });
        expect(res.statusCode).toBe(503);
        expect(res.headers['retry-after']).toBe('2');
        expect(res.json()).toEqual({
          error: 'unavailable',
          message: 'Redis is unavailable (the server logged why); retry later',
        });
      }
      // Logged once per cause (not once per request), with what ioredis said.
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0] as string)).toMatchObject({
        level: 40,
        err: expect.stringMatching(/Connection is closed|enableOfflineQueue/),
        msg: 'answered 503: Redis is unavailable (the server logged why); retry later',
      });
    } finally {
      await server.close();
    }
  });

  it('answers 400 for a value that is not UTF-8', async () => {
    const res = await put('bin', Buffer.from([0xff, 0xfe]), { 'content-type': 'application/octet-stream' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'bad_value', message: 'value is not valid UTF-8' });
  });

  // Textual media types (JSON, forms, …) are values now (api-contract.test.ts); a binary one other than
  // application/octet-stream is not.
  it('answers 415 for a binary media type', async () => {
    const res = await put('k', Buffer.from([0x89, 0x50, 0x4e, 0x47]), { 'content-type': 'image/png' });
    expect(res.statusCode).toBe(415);
    expect(res.json()).toMatchObject({ error: 'unsupported_media_type' });
    expect(res.json().message).toContain('image/png is not a textual media type');
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
    expect(Object.keys(spec.paths).sort()).toEqual(['/keys', '/keys/{key}', '/rate']);
  });

  it('shows the rate generator on GET /rate and changes it at once on PUT /rate', async () => {
    const get = async () => {
      const res = await app.inject({ method: 'GET', url: '/rate' });
      expect(res.statusCode).toBe(200);
      return res.json() as RateBody;
    };
    const setRate = (query: string, headers: Record<string, string> = auth) =>
      app.inject({ method: 'PUT', url: `/rate?${query}`, headers });
    expect(await get()).toEqual({
      profile: { kind: 'constant', rate: 0 },
      description: expect.any(String),
      target_rate: 0,
      actual_rate: 0,
    });

    const on = await setRate('rate=40');
    expect(on.statusCode).toBe(200);
    expect(on.json()).toMatchObject({ profile: { kind: 'constant', rate: 40 }, target_rate: 40 });
    expect((await get()).target_rate).toBe(40);
    // It really generates: events are published and acknowledged.
    await waitUntil('the generator publishing', async () => (await get()).actual_rate > 0, 10_000);

    const burst = await setRate('rate=2&profile=burst&burstRate=100&burstS=5&periodS=60');
    expect(burst.statusCode).toBe(200);
    expect(burst.json()).toMatchObject({
      profile: { kind: 'burst', rate: 2, burstRate: 100, burstS: 5, periodS: 60 },
      target_rate: 100, // a burst starts at once
    });

    const off = await setRate('rate=0');
    expect(off.json()).toMatchObject({ profile: { kind: 'constant', rate: 0 }, target_rate: 0 });
    await applied();
  });

  it.each([
    ['no rate', ''],
    ['a rate that is not a number', 'rate=fast'],
    ['a negative rate', 'rate=-1'],
    ['a rate over the maximum', 'rate=1000001'],
    ['an unknown profile', 'rate=1&profile=zigzag'],
    ['a period under the minimum', 'rate=1&profile=step&periodS=0'],
  ])('answers 400 to PUT /rate with %s, and leaves the rate alone', async (_what, query) => {
    const before = (await app.inject({ method: 'GET', url: '/rate' })).json() as RateBody;
    const res = await app.inject({ method: 'PUT', url: `/rate?${query}`, headers: auth });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'bad_request', message: expect.any(String) });
    expect(((await app.inject({ method: 'GET', url: '/rate' })).json() as RateBody).profile).toEqual(
      before.profile,
    );
  });

  it.each([
    ['a JSON body', { 'content-type': 'application/json' }, '{"rate":500}'],
    ['a form body', { 'content-type': 'application/x-www-form-urlencoded' }, 'rate=500'],
    ['a body without a type', {}, 'rate=500'],
  ])(
    'answers PUT /rate with %s: it takes query parameters, with an example',
    async (_what, headers, body) => {
      const before = (await app.inject({ method: 'GET', url: '/rate' })).json() as RateBody;
      const res = await app.inject({
        method: 'PUT',
        url: '/rate',
        headers: { ...auth, ...headers },
        payload: body,
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: 'bad_request',
        message:
          'PUT /rate takes query parameters, not a body: e.g. PUT /rate?rate=500 (or ' +
          'PUT /rate?rate=50&profile=burst&burstRate=1000&burstS=10); parameters: profile, rate, stepRate, periodS, ' +
          'amplitude, burstRate, burstS',
      });
      expect(((await app.inject({ method: 'GET', url: '/rate' })).json() as RateBody).profile).toEqual(
        before.profile,
      );
    },
  );

  it('takes PUT /rate with a Content-Type but an empty body (some clients always send one)', async () => {
    const res = await app.inject({
      method: 'PUT',
      url: '/rate?rate=0',
      headers: { ...auth, 'content-type': 'application/json', 'content-length': '0' },
    });
    expect(res.statusCode).toBe(200);
  });

  it('answers PUT /rate with an unknown profile by listing the profiles', async () => {
    const res = await app.inject({ method: 'PUT', url: '/rate?rate=1&profile=wat', headers: auth });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: 'bad_request',
      message: 'querystring/profile must be one of constant, step, sine, burst',
    });
  });

  it('answers 401 to PUT /rate without the token', async () => {
    const res = await app.inject({ method: 'PUT', url: '/rate?rate=5' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(((await app.inject({ method: 'GET', url: '/rate' })).json() as RateBody).target_rate).toBe(0);
  });

  it('answers every route in its route table as its OpenAPI description says', async () => {
    // One request per route, with the answer the README / OpenAPI spec give. A route added without a probe here
    // fails the first assertion.
    const probes: Record<string, { req: InjectOptions; status: number }> = {
      'GET /keys': { req: { url: '/keys?prefix=list:&limit=5' }, status: 200 },
      'GET /keys/:key': { req: { url: '/keys/probe-read' }, status: 200 },
      'PUT /keys/:key': {
        req: { url: '/keys/probe', payload: 'v', headers: { 'content-type': 'text/plain', ...auth } },
        status: 202,
      },
      'DELETE /keys/:key': { req: { url: '/keys/probe', headers: auth }, status: 202 },
      'GET /rate': { req: { url: '/rate' }, status: 200 },
      'PUT /rate': { req: { url: '/rate?rate=0', headers: auth }, status: 200 },
      'GET /metrics': { req: { url: '/metrics' }, status: 200 },
      'GET /healthz': { req: { url: '/healthz' }, status: 200 },
      'GET /readyz': { req: { url: '/readyz' }, status: 200 },
      'GET /docs': { req: { url: '/docs' }, status: 200 },
      'GET /docs/': { req: { url: '/docs/' }, status: 200 },
      'GET /docs/static/index.html': { req: { url: '/docs/static/index.html' }, status: 302 },
      'GET /docs/static/swagger-initializer.js': {
        req: { url: '/docs/static/swagger-initializer.js' },
        status: 200,
      },
      'GET /docs/*': { req: { url: '/docs/static/swagger-ui.css' }, status: 200 },
      'GET /docs/json': { req: { url: '/docs/json' }, status: 200 },
      'GET /docs/yaml': { req: { url: '/docs/yaml' }, status: 200 },
    };
    expect((await put('probe-read', 'x')).statusCode).toBe(202);
    await applied();
    const routes = routeTable(app).filter((r) => !r.startsWith('HEAD '));
    expect(routes.sort()).toEqual(Object.keys(probes).sort());

    const spec = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as OpenApi;
    for (const route of routes) {
      const [method, path] = route.split(' ') as [string, string];
      const probe = probes[route] as { req: InjectOptions; status: number };
      const res = await app.inject({ ...probe.req, method: method as InjectOptions['method'] });
      expect(res.statusCode, `${route}: ${res.body.slice(0, 200)}`).toBe(probe.status);
      const op = spec.paths[path.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()];
      if (!op) {
        // Undocumented: only the ops endpoints and the docs themselves.
        expect(path, `${route} is not in the OpenAPI spec`).toMatch(/^\/(metrics|healthz|readyz|docs)\b/);
        continue;
      }
      const documented = op.responses[String(res.statusCode)];
      expect(
        documented,
        `${route} answered ${res.statusCode}, documented: ${Object.keys(op.responses)}`,
      ).toBeDefined();
      const schema = documented?.content?.['application/json']?.schema;
      if (schema) expect(schemaProblems(res.json(), schema), route).toEqual([]);
    }
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
