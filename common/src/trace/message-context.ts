import { type Context, propagation, ROOT_CONTEXT, type Span, trace } from '@opentelemetry/api';

/** The W3C trace context as it travels in a message's headers, beside `Nats-Msg-Id`. */
export interface TraceHeaders {
  traceparent: string;
  tracestate?: string | undefined;
}

/** A message's headers as nats.js gives them (only reading is needed). */
export interface HeaderReader {
  get(name: string): string;
}

const setter = {
  set(carrier: Record<string, string>, key: string, value: string) {
    carrier[key] = value;
  },
};

/** The headers that carry `ctx`'s span, or undefined when it is not sampled (unsampled events carry nothing). */
export function traceHeadersOf(ctx: Context): TraceHeaders | undefined {
  if (!trace.getSpanContext(ctx)?.traceFlags) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier, setter);
  const { traceparent, tracestate } = carrier;
  return traceparent === undefined ? undefined : { traceparent, tracestate };
}

/** The context a message's headers carry, or undefined when they carry none. */
export function contextFromHeaders(headers: HeaderReader | undefined): Context | undefined {
  const traceparent = headers?.get('traceparent');
  if (!traceparent) return undefined;
  const carrier: Record<string, string> = { traceparent };
  const tracestate = headers?.get('tracestate');
  if (tracestate) carrier.tracestate = tracestate;
  const ctx = propagation.extract(ROOT_CONTEXT, carrier);
  return trace.getSpanContext(ctx) ? ctx : undefined;
}

/** The trace headers a message carries, copied as they are (a dead letter keeps its event's trace). */
export function traceHeadersIn(headers: HeaderReader | undefined): TraceHeaders | undefined {
  const traceparent = headers?.get('traceparent');
  if (!traceparent) return undefined;
  return { traceparent, tracestate: headers?.get('tracestate') || undefined };
}

/** The fields a log line about `span`'s work carries, so logs and traces can be joined. */
export function traceLogFields(span: Span): { trace_id: string; span_id: string } {
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}
