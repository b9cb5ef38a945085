import { context, propagation, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { TracingSettings } from '../settings/tracing.js';

export interface Tracing {
  tracer: Tracer;
  /** Exports what is buffered; call before exit so the last spans are not lost. */
  shutdown(): Promise<void>;
}

function samplerOf(s: TracingSettings): Sampler {
  switch (s.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(s.ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(s.ratio) });
  }
}

let registered = false;

/**
 * The process-wide parts, once: the W3C propagator (traceHeadersOf, contextFromHeaders) and the async context
 * manager. No global tracer provider: spans come only from the tracer handed to the publisher, API and worker.
 */
function registerPropagation(): void {
  if (registered) return;
  registered = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

/**
 * Starts the OpenTelemetry SDK, or nothing when tracing is off: then callers get no tracer and skip every span,
 * so the hot paths pay one `undefined` check. Spans are batched and sent as OTLP/HTTP protobuf. Only the W3C
 * trace context is propagated (the `traceparent` and `tracestate` headers).
 */
export function startTracing(s: TracingSettings, version: string): Tracing | undefined {
  if (!s.enabled) return undefined;
  const provider = new TracerProvider({
    sampler: samplerOf(s),
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: s.serviceName, [ATTR_SERVICE_VERSION]: version }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: s.tracesUrl }),
        maxQueueSize: 8192,
        scheduledDelayMillis: 1000,
      }),
    ],
  });
  registerPropagation();
  return {
    tracer: provider.getTracer('kvflow', version),
    shutdown: () => provider.shutdown(),
  };
}
