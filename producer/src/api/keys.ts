import {
  type ConsumerLag,
  type EventInput,
  isJsonType,
  KEY_MAX_BYTES,
  KEY_PATTERN,
  keyProblem,
  listKeys,
  newEvent,
  type Publisher,
  PublishUnavailableError,
  type Redis,
  readAtLeast,
  readEntry,
  SCAN_CURSOR_PATTERN,
  StreamFullError,
} from '@kvflow/common';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ReplyError } from 'ioredis';
import type { AuthPolicy } from './auth.js';
import {
  ApiError,
  errorBodySchema,
  REDIS_UNAVAILABLE,
  schemaErrorMessage,
  valueTooLargeMessage,
} from './errors.js';
import {
  DOCUMENTED_VALUE_TYPES,
  SERVED_VALUE_TYPES,
  servedContentType,
  TEXTUAL_TYPES_DESCRIPTION,
  valueMediaType,
} from './media-types.js';
import { requestContext } from './tracing.js';

export interface KeyRoutesOptions {
  /** The publisher, once NATS is connected and the stream provisioned; until then writes answer 503. */
  publisher: () => Publisher | undefined;
  /** The Redis client, once connected; until then reads answer 503. */
  redis: () => Redis | undefined;
  valueMaxBytes: number;
  auth: AuthPolicy;
  consumerLag?: (() => Promise<ConsumerLag>) | undefined;
}

/**
 * Whether any worker is running, as the stream sees it: a worker that pulls keeps a pull request open, and one that
 * is busy holds delivered, unacknowledged events. Null when the consumer cannot be read.
 */
async function workersState(read: KeyRoutesOptions['consumerLag']) {
  const c = await read?.().catch(() => undefined);
  if (!c) return { workers_running: null, pending: null, says: '' };
  const running = c.waiting > 0 || c.ackPending > 0;
  const says = running
    ? `; workers are running (${c.pending} events waiting, ${c.ackPending} being applied)`
    : `; no worker is running (none pulls or holds events): the autoscaler starts one once it sees the ${c.pending} ` +
      'events waiting';
  return { workers_running: running, pending: c.pending, says };
}

/** How long `GET ?min_seq=` waits by default and at most, and how often it looks again. */
export const WAIT_MS_DEFAULT = 2_000;
export const WAIT_MS_MAX = 10_000;
/** Retry-After for "not connected yet / lost": the connections retry within a few seconds. */
const RETRY_AFTER_S = 2;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }); // ignoreBOM: keep a U+FEFF, do not strip it

const accepted = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'event id (also the JetStream Nats-Msg-Id)' },
    seq: {
      type: 'integer',
      description: 'stream sequence of the stored event; pass it as min_seq to read this write back',
    },
    duplicate: { type: 'boolean' },
  },
  required: ['id', 'seq'],
} as const;

const KEY_DESCRIPTION =
  `1-${KEY_MAX_BYTES} bytes of UTF-8 (the schema can only bound characters: a key of ${KEY_MAX_BYTES} characters ` +
  `or fewer that is over ${KEY_MAX_BYTES} bytes is refused with 400 bad_key), no whitespace or control ` +
  'characters; percent-encode "/" as %2F';
/** The key parameter as checked at run time: `keyProblem` gives the precise 400 `bad_key` message. */
const keyParam = {
  type: 'object',
  properties: { key: { type: 'string', description: KEY_DESCRIPTION } },
  required: ['key'],
} as const;
/** The same parameter as documented: the rules JSON schema can express. */
const keyParamDoc = {
  type: 'object',
  properties: {
    key: {
      type: 'string',
      minLength: 1,
      maxLength: KEY_MAX_BYTES,
      pattern: KEY_PATTERN,
      description: KEY_DESCRIPTION,
    },
  },
  required: ['key'],
} as const;

/** The value's schema per media type: text for text types, any JSON document for JSON, anything for ranges. */
function valueSchema(type: string) {
  if (type === 'application/json') return { description: 'the value: a JSON document' };
  if (type === 'application/*') return { description: 'the value: UTF-8 text in that media type' };
  return { type: 'string', description: 'the value: UTF-8 text' };
}
const valueBodyDoc = {
  description: `the value: UTF-8 text up to VALUE_MAX_BYTES bytes. ${TEXTUAL_TYPES_DESCRIPTION}`,
  content: Object.fromEntries(DOCUMENTED_VALUE_TYPES.map((t) => [t, { schema: valueSchema(t) }])),
} as const;
const valueResponse = {
  description:
    'the value as last applied, with the media type it was written with (text/* with "; charset=utf-8"; ' +
    'untyped values as text/plain)',
  content: Object.fromEntries(SERVED_VALUE_TYPES.map((t) => [t, { schema: valueSchema(t) }])),
} as const;

const notYetApplied = {
  type: 'object',
  properties: {
    ...errorBodySchema.properties,
    applied_seq: {
      type: 'integer',
      description:
        "the key's applied sequence when the wait ran out (0: nothing applied, or tombstone expired)",
    },
    workers_running: {
      type: 'boolean',
      nullable: true,
      description:
        'whether any worker pulls from the stream or holds its events (null: the consumer could not be read)',
    },
    pending: {
      type: 'integer',
      nullable: true,
      description: 'events in the stream no worker has fetched yet',
    },
  },
  required: ['error', 'message', 'applied_seq'],
} as const;

/**
 * What the OpenAPI document shows beyond the run-time schema: the key rules (checked at run time by `keyProblem`,
 * for its precise `bad_key` messages) and the request body (read as bytes, checked by the handler).
 */
function documented(extra: { params: object; body?: object }) {
  return ({ schema, url }: { schema: object; url: string }) => ({ schema: { ...schema, ...extra }, url });
}

function checkedKey(key: string): string {
  const problem = keyProblem(key);
  if (problem) throw new ApiError('bad_key', problem);
  return key;
}

function decodeValue(body: Buffer | undefined, maxBytes: number, json: boolean): string {
  const bytes = body ?? Buffer.alloc(0);
  // Normally caught earlier by the body limit (413 from fastify's own code); checked here on the bytes too.
  if (bytes.length > maxBytes)
    throw new ApiError('value_too_large', valueTooLargeMessage(bytes.length, maxBytes));
  let value: string;
  try {
    value = utf8.decode(bytes);
  } catch {
    throw new ApiError('bad_value', 'value is not valid UTF-8');
  }
  if (json) {
    try {
      JSON.parse(value);
    } catch {
      throw new ApiError('bad_value', 'value is not valid JSON, as its content type says it is');
    }
  }
  return value;
}

/**
 * Runs a Redis command. A connection problem (not connected, closed, timed out) is an outage: 503 with
 * Retry-After. An error *reply* means Redis is up and refused the command (unexpected data, a bug): that is
 * not an outage, so it goes to the error handler as a 500, and is logged.
 */
async function fromRedis<T>(redis: () => Redis | undefined, read: (r: Redis) => Promise<T>): Promise<T> {
  const r = redis();
  if (!r) throw new ApiError('unavailable', 'not connected to Redis yet; retry later', RETRY_AFTER_S);
  try {
    return await read(r);
  } catch (err) {
    if (err instanceof ReplyError) throw err;
    throw new ApiError('unavailable', REDIS_UNAVAILABLE, RETRY_AFTER_S, { cause: err });
  }
}

/** The key routes: writes become events on the stream (202), reads come from Redis (the applied state). */
export async function keyRoutes(app: FastifyInstance, o: KeyRoutesOptions) {
  // Every body is read as bytes; the PUT route decides from the media type (before the body is read).
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const publish = async (input: EventInput, reply: FastifyReply) => {
    const publisher = o.publisher();
    if (!publisher)
      throw new ApiError('unavailable', 'not connected to NATS yet; the event was not stored', RETRY_AFTER_S);
    const event = newEvent(input);
    try {
      const { seq, duplicate } = await publisher.publish(event, requestContext(reply.request));
      return reply.code(202).send({ id: event.id, seq, duplicate });
    } catch (err) {
      if (err instanceof StreamFullError)
        throw new ApiError('stream_full', err.message, undefined, { cause: err });
      if (err instanceof PublishUnavailableError)
        throw new ApiError('unavailable', `${err.message}; retry later`, err.retryAfterSeconds, {
          cause: err,
        });
      throw err;
    }
  };
  const writeResponses = {
    202: accepted,
    400: errorBodySchema,
    ...o.auth.writes.responses,
    503: errorBodySchema,
    507: errorBodySchema,
  };

  app.put<{ Params: { key: string } }>(
    '/keys/:key',
    {
      // The media type decides before the body is read: 415 costs no upload.
      preParsing: async (req) => {
        valueMediaType(req.headers['content-type']);
      },
      ...o.auth.writes.hooks,
      schema: {
        summary: 'Set a key (asynchronously applied)',
        description: `Answers 202 once the event is durably stored in the stream; a worker applies it soon after. ${TEXTUAL_TYPES_DESCRIPTION}`,
        params: keyParam,
        security: o.auth.writes.security,
        response: { ...writeResponses, 413: errorBodySchema, 415: errorBodySchema },
      },
      config: { swaggerTransform: documented({ params: keyParamDoc, body: valueBodyDoc }) },
    },
    async (req, reply) => {
      const key = checkedKey(req.params.key);
      const type = valueMediaType(req.headers['content-type']);
      const value = decodeValue(req.body as Buffer | undefined, o.valueMaxBytes, isJsonType(type.essence));
      return publish({ op: 'set', key, value, contentType: type.stored, src: 'api' }, reply);
    },
  );

  app.delete<{ Params: { key: string } }>(
    '/keys/:key',
    {
      ...o.auth.writes.hooks,
      schema: {
        summary: 'Delete a key (asynchronously applied)',
        params: keyParam,
        security: o.auth.writes.security,
        response: writeResponses,
      },
      config: { swaggerTransform: documented({ params: keyParamDoc }) },
    },
    async (req, reply) => publish({ op: 'del', key: checkedKey(req.params.key), src: 'api' }, reply),
  );

  app.get<{ Params: { key: string }; Querystring: { min_seq?: number; wait_ms: number } }>(
    '/keys/:key',
    {
      ...o.auth.reads.hooks,
      schema: {
        summary: 'Read a key from Redis (the materialized view)',
        description:
          'Without min_seq: the value as last applied by a worker (a write answered 202 may not be applied yet). ' +
          "With min_seq (the seq a write answered): waits up to wait_ms until the key's applied sequence " +
          'reaches it, then answers as usual (404 if that write, or a later one, deleted it); 409 ' +
          'not_yet_applied with applied_seq if it does not in time.',
        params: keyParam,
        querystring: {
          type: 'object',
          properties: {
            min_seq: {
              type: 'integer',
              minimum: 1,
              maximum: Number.MAX_SAFE_INTEGER,
              description:
                'read your write: wait until this stream sequence (or a later one) is applied to the key',
            },
            wait_ms: {
              type: 'integer',
              minimum: 0,
              maximum: WAIT_MS_MAX,
              default: WAIT_MS_DEFAULT,
              description: 'with min_seq: how long to wait at most, in milliseconds',
            },
          },
        },
        security: o.auth.reads.security,
        response: {
          200: valueResponse,
          400: errorBodySchema,
          ...o.auth.reads.responses,
          404: errorBodySchema,
          409: notYetApplied,
          503: errorBodySchema,
        },
      },
      config: { swaggerTransform: documented({ params: keyParamDoc }) },
    },
    async (req, reply) => {
      const key = checkedKey(req.params.key);
      const minSeq = req.query.min_seq;
      const read = () => fromRedis(o.redis, (r) => readEntry(r, key));
      const entry = minSeq === undefined ? await read() : await readAtLeast(read, minSeq, req.query.wait_ms);
      if (minSeq !== undefined && entry.seq < minSeq) {
        const { says, ...workers } = await workersState(o.consumerLag);
        throw new ApiError(
          'not_yet_applied',
          `key ${JSON.stringify(key)} has applied sequence ${entry.seq}, not yet ${minSeq}, after ${req.query.wait_ms} ms${says}`,
          undefined,
          undefined,
          { applied_seq: entry.seq, ...workers },
        );
      }
      if (entry.value === null) throw new ApiError('not_found', `key ${JSON.stringify(key)} not found`);
      // Sent as bytes, so the stored type goes out exactly as it is (no charset added to non-text types).
      return reply.type(servedContentType(entry.contentType)).send(Buffer.from(entry.value, 'utf8'));
    },
  );

  app.get<{ Querystring: { prefix: string; cursor: string; limit: number } }>(
    '/keys',
    {
      ...o.auth.reads.hooks,
      // The cursor's pattern is long: say what it means instead of quoting it.
      schemaErrorFormatter: (errors, dataVar) =>
        new Error(
          errors
            .map((e) =>
              e.instancePath === '/cursor' && e.keyword === 'pattern'
                ? `${dataVar}/cursor must be an unsigned 64-bit integer in decimal, without leading zeros`
                : schemaErrorMessage(e, dataVar),
            )
            .join(', '),
        ),
      schema: {
        summary: 'List keys by prefix, a page at a time (Redis SCAN semantics: no order, limit is a hint)',
        querystring: {
          type: 'object',
          properties: {
            prefix: { type: 'string', default: '', maxLength: 512 },
            cursor: {
              type: 'string',
              default: '0',
              pattern: SCAN_CURSOR_PATTERN,
              description:
                'the cursor of the previous page ("0" to start): a decimal unsigned 64-bit integer, no leading zeros',
            },
            limit: { type: 'integer', default: 100, minimum: 1, maximum: 1000 },
          },
        },
        security: o.auth.reads.security,
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
            required: ['keys', 'cursor'],
          },
          400: errorBodySchema,
          ...o.auth.reads.responses,
          503: errorBodySchema,
        },
      },
    },
    async (req) =>
      fromRedis(o.redis, (r) => listKeys(r, req.query.prefix, req.query.cursor, req.query.limit)),
  );
}
