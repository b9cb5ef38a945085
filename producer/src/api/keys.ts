import {
  type EventInput,
  keyProblem,
  listKeys,
  newEvent,
  type Publisher,
  PublishUnavailableError,
  type Redis,
  readValue,
  valueProblem,
} from '@kvflow/common';
import type { FastifyInstance, FastifyReply, preHandlerAsyncHookHandler } from 'fastify';
import { ApiError, errorBodySchema } from './errors.js';

export interface KeyRoutesOptions {
  publisher: Publisher;
  redis: Redis;
  valueMaxBytes: number;
  requireWriteToken: preHandlerAsyncHookHandler;
  security: Array<Record<string, string[]>>;
}

const ACCEPTED_TYPES = ['text/plain', 'application/octet-stream'];
const utf8 = new TextDecoder('utf-8', { fatal: true });

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

function checkedKey(key: string): string {
  const problem = keyProblem(key);
  if (problem) throw new ApiError('bad_key', problem);
  return key;
}

function decodeValue(body: Buffer | undefined, maxBytes: number): string {
  let value: string;
  try {
    value = utf8.decode(body ?? Buffer.alloc(0));
  } catch {
    throw new ApiError('bad_value', 'value is not valid UTF-8');
  }
  const problem = valueProblem(value, maxBytes);
  if (problem) throw new ApiError(problem.includes('maximum') ? 'value_too_large' : 'bad_value', problem);
  return value;
}

/** Reads from Redis; an unreachable Redis is an outage (503), not a client error. */
async function fromRedis<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    throw new ApiError('unavailable', `Redis is unavailable: ${(err as Error).message}`, 2, { cause: err });
  }
}

/** The key routes: writes become events on the stream (202), reads come from Redis (the applied state). */
export async function keyRoutes(app: FastifyInstance, o: KeyRoutesOptions) {
  const unsupported = () =>
    new ApiError('unsupported_media_type', `send the value as ${ACCEPTED_TYPES.join(' or ')}`);
  app.addContentTypeParser(ACCEPTED_TYPES, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('*', (_req, _payload, done) => done(unsupported(), undefined));

  const publish = async (input: EventInput, reply: FastifyReply) => {
    const event = newEvent(input);
    try {
      const { seq, duplicate } = await o.publisher.publish(event);
      return reply.code(202).send({ id: event.id, seq, duplicate });
    } catch (err) {
      if (err instanceof PublishUnavailableError)
        throw new ApiError('unavailable', `${err.message}; retry later`, err.retryAfterSeconds, {
          cause: err,
        });
      throw err;
    }
  };

  app.put<{ Params: { key: string } }>(
    '/keys/:key',
    {
      preHandler: o.requireWriteToken,
      schema: {
        summary: 'Set a key (asynchronously applied)',
        params: keyParam,
        consumes: ACCEPTED_TYPES,
        security: o.security,
        response: {
          202: accepted,
          400: errorBodySchema,
          401: errorBodySchema,
          413: errorBodySchema,
          415: errorBodySchema,
          503: errorBodySchema,
        },
      },
    },
    async (req, reply) => {
      const key = checkedKey(req.params.key);
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      if (!ACCEPTED_TYPES.includes(type)) throw unsupported();
      const value = decodeValue(req.body as Buffer | undefined, o.valueMaxBytes);
      return publish({ op: 'set', key, value, src: 'api' }, reply);
    },
  );

  app.delete<{ Params: { key: string } }>(
    '/keys/:key',
    {
      preHandler: o.requireWriteToken,
      schema: {
        summary: 'Delete a key (asynchronously applied)',
        params: keyParam,
        security: o.security,
        response: { 202: accepted, 400: errorBodySchema, 401: errorBodySchema, 503: errorBodySchema },
      },
    },
    async (req, reply) => publish({ op: 'del', key: checkedKey(req.params.key), src: 'api' }, reply),
  );

  app.get<{ Params: { key: string } }>(
    '/keys/:key',
    {
      schema: {
        summary: 'Read a key from Redis (the materialized view)',
        params: keyParam,
        produces: ['text/plain'],
        response: {
          200: { type: 'string' },
          400: errorBodySchema,
          404: errorBodySchema,
          503: errorBodySchema,
        },
      },
    },
    async (req, reply) => {
      const key = checkedKey(req.params.key);
      const value = await fromRedis(() => readValue(o.redis, key));
      if (value === null) throw new ApiError('not_found', `key ${JSON.stringify(key)} not found`);
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
          400: errorBodySchema,
          503: errorBodySchema,
        },
      },
    },
    async (req) => fromRedis(() => listKeys(o.redis, req.query.prefix, req.query.cursor, req.query.limit)),
  );
}
