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

/** What makes kvflow's spans: the tracer, and the decision for a new trace. */
export interface SpanSource {
  tracer: Tracer;
  /**
   * Whether a new trace (no parent) is recorded, decided before any span exists: when false, callers make no span
   * at all, so an unsampled event costs this call and nothing else (the SDK would generate ids and a non-recording
   * span for it).
   */
  sampleRoot(): boolean;
}

export interface Tracing extends SpanSource {
  /** Exports what is buffered; call before exit so the last spans are not lost. */
  shutdown(): Promise<void>;
}

/**
 * The SDK's sampler, and the root decision kvflow makes before it (sampleRoot). For the parent-based samplers the
 * root decision is all kvflow's (the SDK then records every root it is asked for, and follows a parent's flag);
 * the others keep the SDK's own rule.
 */
function samplingOf(s: TracingSettings): { sampler: Sampler; sampleRoot: () => boolean } {
  const yes = () => true;
  const no = () => false;
  const followParent = new ParentBasedSampler({ root: new AlwaysOnSampler() });
  switch (s.sampler) {
    case 'always_on':
      return { sampler: new AlwaysOnSampler(), sampleRoot: yes };
    case 'always_off':
      return { sampler: new AlwaysOffSampler(), sampleRoot: no };
    case 'traceidratio':
      return { sampler: new TraceIdRatioBasedSampler(s.ratio), sampleRoot: yes };
    case 'parentbased_always_on':
      return { sampler: followParent, sampleRoot: yes };
    case 'parentbased_always_off':
      return { sampler: followParent, sampleRoot: no };
    case 'parentbased_traceidratio':
      return { sampler: followParent, sampleRoot: () => Math.random() < s.ratio };
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
  const { sampler, sampleRoot } = samplingOf(s);
  const provider = new TracerProvider({
    sampler,
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
    sampleRoot,
    shutdown: () => provider.shutdown(),
  };
}
