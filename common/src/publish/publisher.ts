import { JetStreamApiError } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  type Context,
  context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import pRetry, { AbortError } from 'p-retry';
import { type EventSource, encodeEvent, type KvEvent } from '../event/event.js';
import * as attr from '../trace/attributes.js';
import { type TraceHeaders, traceHeadersOf } from '../trace/message-context.js';
import type { SpanSource } from '../trace/tracing.js';
import { AckWindow, type StreamAck } from './ack-window.js';

/**
 * Lost or late acknowledgements, no stream (yet: a leader election), and the stream's own "temporarily
 * unavailable" are worth another attempt; any other answer of the JetStream API is final.
 */
const noop = () => undefined;

function isRetryable(err: Error): boolean {
  return !(err instanceof JetStreamApiError) || err.code === 503;
}

/** The event could not be stored: callers answer 503 (API) or count a failure (generator); never a false 202. */
export class PublishUnavailableError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'PublishUnavailableError';
  }
}

/**
 * JetStream API error codes (`err_code`) with which a server refuses to store a message for a lasting reason:
 * retrying soon cannot help, only old events ageing out (`max_age`) or an operator making room.
 * - 10077 JSStreamStoreFailedF: the stream's store refused it: `maximum bytes exceeded` / `maximum messages
 *   exceeded` with discard=new (our STREAM_MAX_BYTES), or the store itself failed;
 * - 10047 JSStorageResourcesExceededErr, 10028 JSMemoryResourcesExceededErr: the server's JetStream storage is full;
 * - 10002 JSAccountResourcesExceededErr: the account's JetStream limits are reached.
 */
export const STREAM_FULL_API_CODES: ReadonlySet<number> = new Set([10077, 10047, 10028, 10002]);

/** True for a JetStream refusal that lasts (see STREAM_FULL_API_CODES), recognized by its API error code. */
export function isStreamFullError(err: unknown): err is JetStreamApiError {
  return err instanceof JetStreamApiError && STREAM_FULL_API_CODES.has(err.code);
}

/**
 * The stream refused the event because it (or the server's storage) is full: a lasting condition, not an outage.
 * Not retried; the API answers 507 `stream_full`.
 */
export class StreamFullError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StreamFullError';
  }
}

export interface Published {
  seq: number;
  /** True when the stream had already stored this id (a retry of an event that did get through). */
  duplicate: boolean;
}

/** What a publisher reports; the producer backs it with Prometheus metrics, other callers leave it out. */
export interface PublisherMetrics {
  /** `span`: the event's publish span when traced (for an exemplar). */
  published(src: EventSource, seconds: number, span?: Span): void;
  failed(src: EventSource): void;
}

export interface PublisherOptions {
  subject: string;
  maxInFlight: number;
  timeoutMs: number;
  retries: number;
  /** With tracing on: a `publish` span per sampled event, its context sent in the message's headers. */
  tracing?: SpanSource | undefined;
}

/**
 * Publishes events to JetStream asynchronously with a bounded number awaiting acknowledgement. Every attempt of
 * one event carries the same `Nats-Msg-Id` (the event id), so a retry after a lost acknowledgement is removed by
 * the stream's duplicate window instead of being stored twice.
 */
export class Publisher {
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private waitingHead = 0;
  private connected = true;
  private closed = false;

  private readonly window: AckWindow;

  constructor(
    nc: NatsConnection,
    private readonly opts: PublisherOptions,
    private readonly metrics?: PublisherMetrics,
  ) {
    this.window = new AckWindow(nc, opts.timeoutMs);
    // Ends with the connection; a closed publisher only stops acting on it.
    void (async () => {
      for await (const s of nc.status()) {
        if (this.closed) continue;
        if (s.type === 'disconnect') this.connected = false;
        if (s.type === 'reconnect') this.connected = true;
      }
    })();
  }

  /** Fails the publishes still awaiting an acknowledgement and releases the reply subscription and timer. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.connected = false;
    this.window.close();
  }

  get pending(): number {
    return this.inFlight;
  }

  /** True when a publish slot is free right now (the generator skips rather than queues when saturated). */
  get hasCapacity(): boolean {
    return this.inFlight < this.opts.maxInFlight;
  }

  /**
   * Stores the event. `parent`: the context of the traced work it belongs to (an API request); null when that work
   * was decided not to be traced; undefined for an event of its own (the generator's), a new trace if sampled.
   */
  publish(event: KvEvent, parent?: Context | null): Promise<Published> {
    const t = this.opts.tracing;
    if (!t || parent === null || (parent === undefined && !t.sampleRoot()))
      return this.send(event, undefined, undefined);
    return this.traced(t.tracer, event, parent);
  }

  private async traced(tracer: Tracer, event: KvEvent, parent: Context | undefined): Promise<Published> {
    const span = tracer.startSpan(
      `publish ${this.opts.subject}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          ...attr.messagingAttributes(this.opts.subject, 'send', 'publish'),
          [attr.MESSAGING_MESSAGE_ID]: event.id,
          [attr.EVENT_OP]: event.op,
          [attr.EVENT_SOURCE]: event.src,
        },
      },
      parent ?? context.active(),
    );
    try {
      const published = await this.send(event, traceHeadersOf(trace.setSpan(ROOT_CONTEXT, span)), span);
      span.setAttributes({
        [attr.STREAM_SEQUENCE]: published.seq,
        [attr.PUBLISH_DUPLICATE]: published.duplicate,
      });
      return published;
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  }

  private async send(
    event: KvEvent,
    traced: TraceHeaders | undefined,
    span: Span | undefined,
  ): Promise<Published> {
    if (!this.connected) {
      this.metrics?.failed(event.src);
      const why = this.closed ? 'the publisher is closed' : 'NATS is unreachable';
      throw new PublishUnavailableError(`${why}; the event was not stored`, 2);
    }
    while (this.inFlight >= this.opts.maxInFlight) await this.slot();
    this.inFlight++;
    const started = this.metrics ? performance.now() : 0;
    try {
      const data = encodeEvent(event);
      span?.setAttribute(attr.MESSAGING_BODY_SIZE, data.length);
      // The first attempt goes straight out; only a failed one pays for the retry machinery.
      let ack: StreamAck;
      try {
        ack = await this.window.publish(this.opts.subject, data, event.id, traced);
      } catch (first) {
        ack = await this.retry(first as Error, data, event.id, traced);
      }
      if (this.metrics) this.metrics.published(event.src, (performance.now() - started) / 1000, span);
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      this.metrics?.failed(event.src);
      if (isStreamFullError(err))
        throw new StreamFullError(`the stream refused the event: ${err.message}`, { cause: err });
      throw new PublishUnavailableError(`publish failed: ${(err as Error).message}`, 2, { cause: err });
    } finally {
      this.release();
    }
  }

  /** Retries with the same `Nats-Msg-Id`: if the lost attempt was stored after all, the stream drops the copy. */
  private retry(first: Error, data: Uint8Array, msgId: string, traced?: TraceHeaders): Promise<StreamAck> {
    if (this.opts.retries === 0 || !isRetryable(first)) return Promise.reject(first);
    return pRetry(
      async () => {
        if (!this.connected) throw new AbortError('NATS connection lost');
        try {
          return await this.window.publish(this.opts.subject, data, msgId, traced);
        } catch (err) {
          throw isRetryable(err as Error) ? err : new AbortError(err as Error);
        }
      },
      { retries: this.opts.retries - 1, minTimeout: 50, maxTimeout: 1_000, randomize: true },
    );
  }

  private slot(): Promise<void> {
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    this.inFlight--;
    if (this.waitingHead < this.waiting.length) {
      const wake = this.waiting[this.waitingHead] as () => void;
      this.waiting[this.waitingHead++] = noop;
      // A FIFO without Array#shift (O(n) per call): compact once the consumed head is half the array.
      if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
        this.waiting.splice(0, this.waitingHead);
        this.waitingHead = 0;
      }
      wake();
    }
  }
}
