import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { ApiError } from './errors.js';

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

/** A preHandler that lets a request through only with the API token (or always, when no token is set). */
export function requireToken(token: string | undefined, what: string): preHandlerAsyncHookHandler {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (!token || tokenMatches(req.headers.authorization, token)) return;
    reply.header('www-authenticate', 'Bearer');
    throw new ApiError('unauthorized', `${what} need "Authorization: Bearer <API_TOKEN>"`);
  };
}
