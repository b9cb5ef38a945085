import { type SpanSource, traceLogFields } from '@kvflow/common';
import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
} from '@opentelemetry/semantic-conventions';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's server span and its context, when tracing is on and the request is sampled. */
    otel: { span: Span; ctx: Context } | null;
  }
}

const getter = {
  keys: (carrier: FastifyRequest['headers']) => Object.keys(carrier),
  get: (carrier: FastifyRequest['headers'], key: string) => carrier[key],
};

/** The context a write's publish span belongs to: the request's span; null when the request is not traced. */
export function requestContext(req: FastifyRequest): Context | null {
  return req.otel?.ctx ?? null;
}

/**
 * A server span per API request, continuing a caller's `traceparent` if it sent one. A sampled request also
 * gets one log line when it completes, with its `trace_id` and `span_id` (the API logs no other requests: at
 * thousands of writes a second, that is what sampling is for).
 */
export const tracingPlugin = fp(
  async (app: FastifyInstance, opts: { tracing: SpanSource; log: FastifyBaseLogger }) => {
    app.decorateRequest('otel', null);
    app.addHook('onRequest', async (req) => {
      // A caller's traceparent decides (the sampler follows it); without one, a new trace if sampled.
      if (req.headers.traceparent === undefined && !opts.tracing.sampleRoot()) return;
      const parent = propagation.extract(ROOT_CONTEXT, req.headers, getter);
      const route = req.routeOptions.url;
      const span = opts.tracing.tracer.startSpan(
        route ? `${req.method} ${route}` : req.method,
        {
          kind: SpanKind.SERVER,
          attributes: {
            [ATTR_HTTP_REQUEST_METHOD]: req.method,
            ...(route ? { [ATTR_HTTP_ROUTE]: route } : {}),
          },
        },
        parent,
      );
      if (!span.isRecording()) {
        span.end();
        return;
      }
      req.otel = { span, ctx: trace.setSpan(context.active(), span) };
    });
    app.addHook('onResponse', async (req, reply) => {
      if (!req.otel) return;
      const { span } = req.otel;
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      opts.log.info(
        {
          ...traceLogFields(span),
          method: req.method,
          route: req.routeOptions.url,
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime),
        },
        'request completed',
      );
    });
  },
);
