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
  value_too_large: { status: 413, description: 'the value exceeds VALUE_MAX_BYTES' },
  unsupported_media_type: { status: 415, description: 'the body has a media type the API does not take' },
  unavailable: {
    status: 503,
    description: 'NATS or Redis cannot be reached: retry after Retry-After seconds',
  },
  internal: { status: 500, description: 'a bug: the server logged it' },
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

/** Error and not-found handlers: every failure leaves as a catalogued `{ error, message }`. */
export const errorsPlugin = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((err: FastifyError | Error, req, reply) => {
      const e = toApiError(err);
      if (e.code === 'internal') req.log.error({ err }, 'request failed');
      if (e.retryAfterSeconds !== undefined) reply.header('retry-after', String(e.retryAfterSeconds));
      return reply.code(e.status).type('application/json').send({ error: e.code, message: e.message });
    });
    app.setNotFoundHandler((req, reply) =>
      reply
        .code(404)
        .type('application/json')
        .send({ error: 'not_found', message: `no route ${req.method} ${req.url}` }),
    );
  },
  { name: 'kvflow-errors' },
);
