import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { KEY_MAX_BYTES, keyProblem, type Logger } from '@kvflow/common';
import type {
  ConnectionError,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifySchemaValidationError,
  FastifyServerOptions,
} from 'fastify';
import fp from 'fastify-plugin';

/** Which part of the request failed validation ('querystring', 'params', …). */
type SchemaErrorDataVar = Parameters<NonNullable<FastifyServerOptions['schemaErrorFormatter']>>[1];

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
  request_timeout: {
    status: 408,
    description: 'the request line and headers did not arrive in time (the connection is closed)',
  },
  not_yet_applied: {
    status: 409,
    description:
      'GET with min_seq: the key had not reached that sequence when wait_ms ran out (applied_seq tells where it is)',
  },
  value_too_large: { status: 413, description: 'the value exceeds VALUE_MAX_BYTES' },
  unsupported_media_type: { status: 415, description: 'the body has a media type the API does not take' },
  headers_too_large: {
    status: 431,
    description:
      "the request line and headers are over the server's limit (Node.js's, 16 KiB): a URL that long has a key " +
      'far over the key limit; the connection is closed',
  },
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

/** The 413 message: the value's size when the request says it, the limit and the setting that sets it. */
export function valueTooLargeMessage(bytes: number | undefined, maxBytes: number): string {
  return bytes === undefined
    ? `value is over ${maxBytes} bytes, the maximum (VALUE_MAX_BYTES)`
    : `value is ${bytes} bytes; the maximum is ${maxBytes} (VALUE_MAX_BYTES)`;
}

/** The 503 message when Redis fails a command: kvflow's words; the client library's go to the server log. */
export const REDIS_UNAVAILABLE = 'Redis is unavailable (the server logged why); retry later';

function contentLength(req: FastifyRequest): number | undefined {
  const n = Number(req.headers['content-length']);
  return req.headers['content-length'] !== undefined && Number.isSafeInteger(n) ? n : undefined;
}

function toApiError(
  err: FastifyError | ApiError | Error,
  req: FastifyRequest,
  valueMaxBytes?: number,
): ApiError {
  if (err instanceof ApiError) return err;
  const code = 'code' in err && typeof err.code === 'string' ? FASTIFY_CODES[err.code] : undefined;
  if (code === 'value_too_large' && valueMaxBytes !== undefined)
    return new ApiError(code, valueTooLargeMessage(contentLength(req), valueMaxBytes));
  if (code) return new ApiError(code, err.message);
  const status = 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : 500;
  if (status >= 400 && status < 500) return new ApiError('bad_request', err.message);
  return new ApiError('internal', 'internal error', undefined, { cause: err });
}

/**
 * Validation messages as ajv words them, except that an `enum` lists its values ("must be one of constant, step,
 * sine, burst" rather than "must be equal to one of the allowed values"). Set on the instance: every route's.
 */
export function schemaErrorMessage(e: FastifySchemaValidationError, dataVar: SchemaErrorDataVar): string {
  const allowed = e.params.allowedValues;
  if (e.keyword === 'enum' && Array.isArray(allowed))
    return `${dataVar}${e.instancePath} must be one of ${allowed.join(', ')}`;
  return `${dataVar}${e.instancePath} ${e.message ?? 'is invalid'}`;
}

export function schemaErrorFormatter(
  errors: FastifySchemaValidationError[],
  dataVar: SchemaErrorDataVar,
): Error {
  return new Error(errors.map((e) => schemaErrorMessage(e, dataVar)).join(', '));
}

const sendError = (reply: FastifyReply, e: ApiError) =>
  reply
    .code(e.status)
    .type('application/json')
    .send({ error: e.code, message: e.message, ...e.details });

const KEYS_PREFIX = '/keys/';

/**
 * The router's own refusals, before any route or hook runs (fastify's `frameworkErrors`): a URL that is not valid
 * percent-encoding, or a path segment over `maxParamLength`. On `/keys/…` that segment is the key: the answer is
 * the key rule it breaks (`bad_key`), as for any other bad key.
 */
export function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  const path = req.url.split('?')[0] ?? '';
  const keyText = path.startsWith(KEYS_PREFIX) ? path.slice(KEYS_PREFIX.length) : undefined;
  let e: ApiError;
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH' || err.code === 'FST_ERR_BAD_URL') {
    let key: string | undefined;
    try {
      key = keyText === undefined ? undefined : decodeURIComponent(keyText);
    } catch {
      key = undefined;
    }
    if (key !== undefined)
      e = new ApiError('bad_key', keyProblem(key) ?? `key is over ${KEY_MAX_BYTES} bytes`);
    else if (keyText !== undefined)
      e = new ApiError('bad_key', 'key is not valid percent-encoded UTF-8 (send "%" itself as %25)');
    else if (err.code === 'FST_ERR_BAD_URL')
      e = new ApiError('bad_request', 'the URL is not valid percent-encoded UTF-8');
    else
      e = new ApiError(
        'not_found',
        `no route ${req.method} ${path.length > 64 ? `${path.slice(0, 64)}…` : path}`,
      );
  } else {
    e = new ApiError('internal', 'internal error', undefined, { cause: err });
  }
  return sendError(reply, e);
}

/**
 * What the HTTP server answers when Node.js's parser refuses a request before fastify sees it (the server's
 * `clientError`): request line and headers over `maxHeaderSize` (431), not in time (408), not HTTP (400); in the
 * catalog's shape, then the connection is closed, as Node.js and fastify do by default.
 */
export function clientErrorHandler(err: ConnectionError, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let e: ApiError;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    // The request line is the start of what the parser had: a /keys/ URL with no line end in it is the long part.
    const raw: unknown = err.rawPacket;
    const start = Buffer.isBuffer(raw) ? raw.subarray(0, 4096).toString('latin1') : '';
    const longKey = /^[A-Z]+ \/keys\/[^\s]*$/.test(start);
    e = new ApiError(
      'headers_too_large',
      `the request line and headers are over ${maxHeaderSize} bytes, the server's limit` +
        (longKey ? `: the key in this URL is far over the key limit of ${KEY_MAX_BYTES} bytes` : ''),
    );
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    e = new ApiError('request_timeout', 'the request line and headers did not arrive in time');
  } else {
    e = new ApiError('bad_request', `the request is not valid HTTP/1.1 (${err.code ?? err.message})`);
  }
  if (socket.writable) {
    const body = JSON.stringify({ error: e.code, message: e.message });
    socket.write(
      `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
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

/** Whether a cause of 503s is worth a log line: each distinct one at most once per OUTAGE_LOG_MS. */
const OUTAGE_LOG_MS = 10_000;
function outageLog() {
  const last = new Map<string, number>();
  return {
    isNew(cause: string): boolean {
      const now = Date.now();
      const at = last.get(cause);
      if (at !== undefined && now - at < OUTAGE_LOG_MS) return false;
      if (last.size >= 64) last.clear();
      last.set(cause, now);
      return true;
    },
  };
}

/** Error and not-found handlers: every failure leaves as a catalogued `{ error, message }`. */
export const errorsPlugin = fp(
  async (
    app: FastifyInstance,
    opts: { methodsFor?: MethodsFor; log?: Logger | undefined; valueMaxBytes?: number },
  ) => {
    const outages = outageLog();
    app.setErrorHandler((err: FastifyError | Error, req, reply) => {
      const e = toApiError(err, req, opts.valueMaxBytes);
      const log = opts.log ?? req.log;
      if (e.code === 'internal') log.error({ err, method: req.method, url: req.url }, 'request failed');
      // An outage answers in kvflow's words; what the client library said goes here, once per cause a while.
      if (e.code === 'unavailable' && e.cause instanceof Error && outages.isNew(e.cause.message))
        log.warn({ err: e.cause.message, method: req.method, url: req.url }, `answered 503: ${e.message}`);
      if (e.retryAfterSeconds !== undefined) reply.header('retry-after', String(e.retryAfterSeconds));
      return sendError(reply, e);
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
