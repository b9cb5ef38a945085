import { timingSafeEqual } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import {
  type EventSource,
  type KvEvent,
  keyProblem,
  listKeys,
  newEventId,
  type Readiness,
  type Redis,
  type Registry,
  readValue,
  valueProblem,
} from '@kvflow/common';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { type Publisher, PublishUnavailableError } from './publisher.js';

export interface ApiDeps {
  publisher: Publisher;
  redis: Redis;
  registry: Registry;
  readiness: Readiness;
  apiToken: string | undefined;
  valueMaxBytes: number;
  /** Extra routes (e.g. the live rate control), given the write-authorization check. */
  extend?: (
    app: FastifyInstance,
    requireToken: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
  ) => void;
}

const errorBody = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
  required: ['error', 'message'],
} as const;
const accepted = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'event id (also the JetStream Nats-Msg-Id)' },
    seq: { type: 'integer', description: 'stream sequence of the stored event' },
    duplicate: { type: 'boolean' },
  },
  required: ['id', 'seq'],
} as const;
const keyParam = {
  type: 'object',
  properties: {
    key: {
      type: 'string',
      description: '1-512 bytes of UTF-8, no whitespace or control characters; percent-encode "/" as %2F',
    },
  },
  required: ['key'],
} as const;

const ACCEPTED_TYPES = ['text/plain', 'application/octet-stream'];
const utf8 = new TextDecoder('utf-8', { fatal: true });

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function send(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.code(status).type('application/json').send({ error: code, message });
}

function checkedKey(key: string): string {
  const problem = keyProblem(key);
  if (problem) throw new HttpError(400, 'bad_key', problem);
  return key;
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const presented = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(token);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    // Keys may be 512 bytes, i.e. up to 1,536 characters percent-encoded (the default limit is 100).
    routerOptions: { maxParamLength: 2048 },
    bodyLimit: deps.valueMaxBytes,
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'kvflow API',
        version: '1',
        description:
          'Writes become events in a NATS JetStream stream and are applied to Redis by autoscaled workers. ' +
          'Writes answer 202 once the event is durably stored; reads see it once a worker has applied it.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(ACCEPTED_TYPES, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err instanceof HttpError) return send(reply, err.status, err.code, err.message);
    if (err instanceof PublishUnavailableError) {
      reply.header('retry-after', String(err.retryAfterSeconds));
      return send(reply, 503, 'unavailable', `${err.message}; retry later`);
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return send(reply, 413, 'value_too_large', `value exceeds ${deps.valueMaxBytes} bytes`);
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      return send(reply, 415, 'unsupported_media_type', `send the value as ${ACCEPTED_TYPES.join(' or ')}`);
    if (err.code === 'FST_ERR_VALIDATION') return send(reply, 400, 'bad_request', err.message);
    if (err.statusCode && err.statusCode < 500)
      return send(reply, err.statusCode, 'bad_request', err.message);
    reply.log.error(err);
    return send(reply, 500, 'internal', 'internal error');
  });
  app.setNotFoundHandler((req, reply) => send(reply, 404, 'not_found', `no route ${req.method} ${req.url}`));

  const requireToken = async (req: FastifyRequest, reply: FastifyReply) => {
    if (deps.apiToken && !tokenMatches(req.headers.authorization, deps.apiToken)) {
      reply.header('www-authenticate', 'Bearer');
      return send(reply, 401, 'unauthorized', 'writes need "Authorization: Bearer <API_TOKEN>"');
    }
  };
  const readRedis = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw new PublishUnavailableError(`Redis is unavailable: ${(err as Error).message}`, 2);
    }
  };
  const publish = async (event: KvEvent, reply: FastifyReply) => {
    const { seq, duplicate } = await deps.publisher.publish(event);
    return reply.code(202).send({ id: event.id, seq, duplicate });
  };
  const base = (key: string, src: EventSource) => ({
    v: 1 as const,
    id: newEventId(),
    key,
    ts: Date.now(),
    src,
  });
  const security = deps.apiToken ? [{ bearer: [] }] : [];

  app.put<{ Params: { key: string } }>(
    '/keys/:key',
    {
      preHandler: requireToken,
      schema: {
        summary: 'Set a key (asynchronously applied)',
        params: keyParam,
        consumes: ACCEPTED_TYPES,
        security,
        response: {
          202: accepted,
          400: errorBody,
          401: errorBody,
          413: errorBody,
          415: errorBody,
          503: errorBody,
        },
      },
    },
    async (req, reply) => {
      const key = checkedKey(req.params.key);
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      if (!ACCEPTED_TYPES.includes(type))
        throw new HttpError(
          415,
          'unsupported_media_type',
          `send the value as ${ACCEPTED_TYPES.join(' or ')}`,
        );
      let value: string;
      try {
        value = utf8.decode((req.body as Buffer | undefined) ?? Buffer.alloc(0));
      } catch {
        throw new HttpError(400, 'bad_value', 'value is not valid UTF-8');
      }
      const problem = valueProblem(value, deps.valueMaxBytes);
      if (problem) throw new HttpError(problem.includes('maximum') ? 413 : 400, 'bad_value', problem);
      return publish({ ...base(key, 'api'), op: 'set', value }, reply);
    },
  );

  app.delete<{ Params: { key: string } }>(
    '/keys/:key',
    {
      preHandler: requireToken,
      schema: {
        summary: 'Delete a key (asynchronously applied)',
        params: keyParam,
        security,
        response: { 202: accepted, 400: errorBody, 401: errorBody, 503: errorBody },
      },
    },
    async (req, reply) => publish({ ...base(checkedKey(req.params.key), 'api'), op: 'del' }, reply),
  );

  app.get<{ Params: { key: string } }>(
    '/keys/:key',
    {
      schema: {
        summary: 'Read a key from Redis (the materialized view)',
        params: keyParam,
        produces: ['text/plain'],
        response: { 200: { type: 'string' }, 400: errorBody, 404: errorBody, 503: errorBody },
      },
    },
    async (req, reply) => {
      const key = checkedKey(req.params.key);
      const value = await readRedis(() => readValue(deps.redis, key));
      if (value === null) return send(reply, 404, 'not_found', `key ${JSON.stringify(key)} not found`);
      return reply.type('text/plain; charset=utf-8').send(value);
    },
  );

  app.get<{ Querystring: { prefix: string; cursor: string; limit: number } }>(
    '/keys',
    {
      schema: {
        summary: 'List keys by prefix, a page at a time (Redis SCAN semantics: no order, limit is a hint)',
        querystring: {
          type: 'object',
          properties: {
            prefix: { type: 'string', default: '', maxLength: 512 },
            cursor: { type: 'string', default: '0', pattern: '^[0-9]+$' },
            limit: { type: 'integer', default: 100, minimum: 1, maximum: 1000 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              keys: { type: 'array', items: { type: 'string' } },
              cursor: {
                type: ['string', 'null'],
                description: 'pass back for the next page; null at the end',
              },
            },
          },
          400: errorBody,
          503: errorBody,
        },
      },
    },
    async (req) => readRedis(() => listKeys(deps.redis, req.query.prefix, req.query.cursor, req.query.limit)),
  );

  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) =>
    reply.type(deps.registry.contentType).send(await deps.registry.metrics()),
  );
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const ready = deps.readiness.ready;
    return reply.code(ready ? 200 : 503).send({ ready, checks: deps.readiness.report() });
  });
  deps.extend?.(app, requireToken);
  return app;
}
