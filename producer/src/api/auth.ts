import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { ApiError, errorBodySchema } from './errors.js';

/** `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1). */
function presentedToken(header: string | undefined): string {
  const match = /^bearer +(\S+)\s*$/i.exec(header ?? '');
  return match?.[1] ?? '';
}

/** Constant-time comparison: the time taken does not tell how much of the token was right. */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const presented = Buffer.from(presentedToken(header));
  const expected = Buffer.from(token);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

/** A preHandler that lets a request through only with the API token. */
function requireToken(token: string, what: string): preHandlerAsyncHookHandler {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (tokenMatches(req.headers.authorization, token)) return;
    reply.header('www-authenticate', 'Bearer');
    throw new ApiError('unauthorized', `${what} need "Authorization: Bearer <API_TOKEN>"`);
  };
}

/** What one kind of request (reads or writes) needs, in the shape a route's options take. */
export interface Guard {
  /** The route's hooks: the token check, or nothing when this kind of request is open. */
  hooks: { preHandler?: preHandlerAsyncHookHandler };
  /** The OpenAPI security requirement. */
  security: Array<Record<string, string[]>>;
  /** The 401 response the route documents, when it can answer one. */
  responses: { 401?: typeof errorBodySchema };
}

/** The API's one auth policy: writes need API_TOKEN when it is set; reads too with API_TOKEN_READS. */
export interface AuthPolicy {
  writes: Guard;
  reads: Guard;
}

export function authPolicy(token: string | undefined, tokenReads: boolean): AuthPolicy {
  const open: Guard = { hooks: {}, security: [], responses: {} };
  const guarded = (what: string): Guard =>
    token
      ? {
          hooks: { preHandler: requireToken(token, what) },
          security: [{ bearer: [] }],
          responses: { 401: errorBodySchema },
        }
      : open;
  return { writes: guarded('writes'), reads: tokenReads ? guarded('reads') : open };
}
