import type { Logger } from '@kvflow/common';
import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * The API's error catalog: every error a client can get, with its code (the `error` field of the JSON body) and
 * HTTP status. Routes throw `ApiError`s by code; the handler below turns them, and fastify's own errors, into
 * `{ error, message }` bodies. Nothing is recognized by matching message text.
 */
export const ERROR_CATALOG = {
  bad_request: { status: 400, description: 'the request does not match the documented parameters' },
  bad_key: { status: 400, description: 'the key breaks the key rules' },
  bad_value: { status: 400, description: 'the value is not valid UTF-8 text' },
  unauthorized: { status: 401, description: 'API_TOKEN is set and the request lacks the bearer token' },
  not_found: { status: 404, description: 'no such key, or no such route' },
  method_not_allowed: {
    status: 405,
    description: 'the path exists but not with this method: the Allow header lists the methods it takes',
  },
  not_yet_applied: {
    status: 409,
    description:
      'GET with min_seq: the key had not reached that sequence when wait_ms ran out (applied_seq tells where it is)',
  },
  value_too_large: { status: 413, description: 'the value exceeds VALUE_MAX_BYTES' },
  unsupported_media_type: { status: 415, description: 'the body has a media type the API does not take' },
  unavailable: {
    status: 503,
    description: 'NATS or Redis cannot be reached (or is not connected yet): retry after Retry-After seconds',
  },
  stream_full: {
    status: 507,
    description:
      'the stream is full (STREAM_MAX_BYTES, or the JetStream server is out of storage): nothing was stored; ' +
      'it stays so until old events age out (STREAM_MAX_AGE_MS) or an operator makes room, so no Retry-After',
  },
  internal: { status: 500, description: 'a bug or unexpected data: the server logged it' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export class ApiError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** For 503s: when to retry, sent as Retry-After. */
    readonly retryAfterSeconds?: number,
    options?: ErrorOptions,
    /** Extra fields of the JSON body (declared in the route's response schema for this status). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message, options);
    this.name = 'ApiError';
    this.status = ERROR_CATALOG[code].status;
  }
}

/** The JSON schema of every error body, for the OpenAPI document. */
export const errorBodySchema = {
  type: 'object',
  properties: {
    error: { type: 'string', enum: Object.keys(ERROR_CATALOG) },
    message: { type: 'string' },
  },
  required: ['error', 'message'],
} as const;

// fastify's own error codes, mapped onto the catalog.
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'value_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'bad_request',
  FST_ERR_VALIDATION: 'bad_request',
};

function toApiError(err: FastifyError | ApiError | Error): ApiError {
  if (err instanceof ApiError) return err;
  const code = 'code' in err && typeof err.code === 'string' ? FASTIFY_CODES[err.code] : undefined;
  if (code) return new ApiError(code, err.message);
  const status = 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : 500;
  if (status >= 400 && status < 500) return new ApiError('bad_request', err.message);
  return new ApiError('internal', 'internal error', undefined, { cause: err });
}

/**
 * Which methods a request path has routes for, so a path that exists but not with the request's method answers
 * 405 `method_not_allowed` with an `Allow` header (and `OPTIONS` 204 with `Allow`) instead of 404. Call before
 * any route is added: it learns the routes from `onRoute`. No extra routes are added: unrouted requests ask it.
 */
export type MethodsFor = (path: string) => string[];

/** A route URL (`/keys/:key`, `/docs/*`) as a regular expression over raw request paths. */
function routePattern(url: string): RegExp {
  const parts = url.split(/(:[A-Za-z0-9_]+|\*)/).map((part) => {
    if (part === '*') return '.*';
    if (part.startsWith(':')) return '[^/]+';
    return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return new RegExp(`^${parts.join('')}$`);
}

export function routeMethods(app: FastifyInstance): MethodsFor {
  const urls = new Set<string>();
  app.addHook('onRoute', (route) => {
    urls.add(route.url);
  });
  let patterns: Array<{ re: RegExp; methods: string[] }> | undefined;
  return (path) => {
    // Built on first use, when every route is known. The router also knows routes fastify adds by itself (HEAD,
    // a prefix's "/" twin), so the methods are asked of it.
    patterns ??= [...urls].map((url) => ({
      re: routePattern(url),
      methods: app.supportedMethods.filter((method) => app.hasRoute({ url, method })),
    }));
    const found = new Set<string>();
    for (const p of patterns) if (p.re.test(path)) for (const m of p.methods) found.add(m);
    if (found.size > 0) found.add('OPTIONS');
    return [...found].sort();
  };
}

/** Error and not-found handlers: every failure leaves as a catalogued `{ error, message }`. */
export const errorsPlugin = fp(
  async (app: FastifyInstance, opts: { methodsFor?: MethodsFor; log?: Logger | undefined }) => {
    app.setErrorHandler((err: FastifyError | Error, req, reply) => {
      const e = toApiError(err);
      if (e.code === 'internal')
        (opts.log ?? req.log).error({ err, method: req.method, url: req.url }, 'request failed');
      if (e.retryAfterSeconds !== undefined) reply.header('retry-after', String(e.retryAfterSeconds));
      return reply
        .code(e.status)
        .type('application/json')
        .send({ error: e.code, message: e.message, ...e.details });
    });
    // An unrouted request on a path that exists with other methods: 405 (or 204 for OPTIONS), decided in
    // onRequest, before fastify reads or checks any body.
    app.addHook('onRequest', async (req, reply) => {
      if (!req.is404 || !opts.methodsFor) return;
      const path = req.url.split('?')[0] ?? '';
      const allowed = opts.methodsFor(path);
      // A method the path has that still found no route (e.g. a parameter over maxParamLength) stays a 404.
      if (allowed.length === 0 || (req.method !== 'OPTIONS' && allowed.includes(req.method))) return;
      reply.header('allow', allowed.join(', '));
      if (req.method === 'OPTIONS') return reply.code(204).send();
      throw new ApiError(
        'method_not_allowed',
        `${req.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`,
      );
    });
    app.setNotFoundHandler((req, reply) =>
      reply
        .code(ERROR_CATALOG.not_found.status)
        .type('application/json')
        .send({ error: 'not_found', message: `no route ${req.method} ${req.url}` }),
    );
  },
  { name: 'kvflow-errors' },
);
