import { type JetStreamClient, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import pRetry, { AbortError } from 'p-retry';
import { type EventSource, encodeEvent, type KvEvent } from './event.js';

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

export interface Published {
  seq: number;
  /** True when the stream had already stored this id (a retry of an event that did get through). */
  duplicate: boolean;
}

/** What a publisher reports; the producer backs it with Prometheus metrics, other callers leave it out. */
export interface PublisherMetrics {
  published(src: EventSource, seconds: number): void;
  failed(src: EventSource): void;
  inFlight(n: number): void;
}

export interface PublisherOptions {
  subject: string;
  maxInFlight: number;
  timeoutMs: number;
  retries: number;
}

/**
 * Publishes events to JetStream asynchronously with a bounded number awaiting acknowledgement. Every attempt of
 * one event carries the same `Nats-Msg-Id` (the event id), so a retry after a lost acknowledgement is removed by
 * the stream's duplicate window instead of being stored twice.
 */
export class Publisher {
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private connected = true;

  private readonly js: JetStreamClient;

  constructor(
    nc: NatsConnection,
    private readonly opts: PublisherOptions,
    private readonly metrics?: PublisherMetrics,
  ) {
    this.js = jetstream(nc);
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.connected = false;
        if (s.type === 'reconnect') this.connected = true;
      }
    })();
  }

  get pending(): number {
    return this.inFlight;
  }

  /** True when a publish slot is free right now (the generator skips rather than queues when saturated). */
  get hasCapacity(): boolean {
    return this.inFlight < this.opts.maxInFlight;
  }

  async publish(event: KvEvent): Promise<Published> {
    if (!this.connected) {
      this.metrics?.failed(event.src);
      throw new PublishUnavailableError('NATS is unreachable; the event was not stored', 2);
    }
    await this.acquire();
    const started = performance.now();
    try {
      const data = encodeEvent(event);
      const ack = await pRetry(
        async () => {
          if (!this.connected) throw new AbortError('NATS connection lost');
          return this.js.publish(this.opts.subject, data, { msgID: event.id, timeout: this.opts.timeoutMs });
        },
        { retries: this.opts.retries, minTimeout: 50, maxTimeout: 1_000, randomize: true },
      );
      this.metrics?.published(event.src, (performance.now() - started) / 1000);
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      this.metrics?.failed(event.src);
      throw new PublishUnavailableError(`publish failed: ${(err as Error).message}`, 2, { cause: err });
    } finally {
      this.release();
    }
  }

  private async acquire(): Promise<void> {
    if (this.inFlight >= this.opts.maxInFlight)
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
    this.metrics?.inFlight(this.inFlight);
  }

  private release(): void {
    this.inFlight--;
    this.metrics?.inFlight(this.inFlight);
    this.waiting.shift()?.();
  }
}
