import { setTimeout as sleep } from 'node:timers/promises';
import {
  type ApplyOutcome,
  applyFenced,
  backoffMs,
  type Logger,
  type PoisonMessage,
  partitionBatch,
  probeRedis,
  publishPoison,
  type Readiness,
  type Redis,
  type StreamSettings,
  toFencedWrite,
  traceHeadersIn,
  type ValidMessage,
} from '@kvflow/common';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { Tracer } from '@opentelemetry/api';
import type { BatchQueue } from './batch-queue.js';
import { EventSpans } from './event-spans.js';
import type { ConsumerMetrics } from './metrics.js';
import type { PullPump } from './pull-pump.js';

/** Events a worker handled, by outcome. */
export interface WorkerTotals {
  events: number;
  applied: number;
  stale: number;
  deadLettered: number;
}

export interface WorkerDeps {
  queue: BatchQueue<JsMsg>;
  pump: PullPump;
  redis: Redis;
  js: JetStreamClient;
  stream: StreamSettings;
  metrics: ConsumerMetrics;
  readiness: Readiness;
  /** Runs before each batch is applied, with its number of valid events (the demo's simulated work). */
  beforeApply?: ((events: number) => Promise<void>) | undefined;
  log: Logger;
  batchSize: number;
  /**
   * Batches applied at once. Two let the worker prepare and acknowledge one batch while Redis runs the other;
   * safe in any order because every write is fenced by its sequence.
   */
  applyConcurrency: number;
  nakBaseDelayMs: number;
  nakMaxDelayMs: number;
  /** Called after a batch is acknowledged (used by the benchmark to measure end-to-end latency exactly). */
  onApplied?: (events: readonly ValidMessage<JsMsg>[]) => void;
  /** With tracing on: a `process` span per traced event (see EventSpans). */
  tracer?: Tracer | undefined;
}

/**
 * Takes batches from the queue and applies them: valid events to Redis (ack only after Redis confirmed), poison
 * messages to the dead-letter stream (then term). When Redis fails the batch is nak-ed with a growing delay and
 * the worker stops pulling until Redis answers again, so an outage does not burn through deliveries.
 */
export class Worker {
  private running: Promise<void> | null = null;
  private recovering: Promise<void> | null = null;
  private batches = 0;
  /** Redis outages this worker recovered from (one recovery each, however many loops hit the outage). */
  recoveries = 0;
  private readonly lifetime: WorkerTotals = { events: 0, applied: 0, stale: 0, deadLettered: 0 };
  /** The totals at the last summary line. */
  private logged: WorkerTotals = { ...this.lifetime };

  constructor(private readonly d: WorkerDeps) {}

  start(): void {
    // Ready follows the connection too, not only failed applies: an idle worker whose Redis went away is not
    // ready (it would take events it cannot apply), and is again once the connection is and no recovery runs.
    this.d.redis.on('close', this.onRedisClose).on('ready', this.onRedisReady);
    this.running ??= this.run();
  }

  private readonly onRedisClose = () => this.d.readiness.set('redis', false);
  private readonly onRedisReady = () => {
    if (!this.recovering) this.d.readiness.set('redis', true);
  };

  /** Events handled since start, by outcome. */
  get totals(): Readonly<WorkerTotals> {
    return this.lifetime;
  }

  /** Resolves once the queue is closed (the pump stopped) and every message taken has been settled. */
  done(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private async run(): Promise<void> {
    const summaryTimer = setInterval(() => this.logSummary(), 10_000);
    summaryTimer.unref();
    const loop = async () => {
      for (;;) {
        if (this.recovering) await this.recovering;
        const batch = await this.d.queue.take(this.d.batchSize);
        if (batch.length === 0) return;
        await this.process(batch);
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.max(1, this.d.applyConcurrency) }, loop));
    } finally {
      clearInterval(summaryTimer);
      this.d.redis.off('close', this.onRedisClose).off('ready', this.onRedisReady);
      this.logSummary();
    }
  }

  private async process(batch: JsMsg[]): Promise<void> {
    const { metrics, stream } = this.d;
    for (const m of batch) if (m.redelivered) metrics.redeliveries.inc();
    const { valid, poison } = partitionBatch(batch, stream.valueMaxBytes);
    const spans = this.d.tracer && EventSpans.start(this.d.tracer, stream, valid, batch.length);
    await this.d.beforeApply?.(valid.length);
    if (valid.length > 0) {
      const started = performance.now();
      let outcomes: ApplyOutcome[];
      try {
        const writes = valid.map((v) => toFencedWrite(v.event, v.msg.seq));
        outcomes = await applyFenced(this.d.redis, writes, stream.tombstoneTtlMs);
      } catch (err) {
        spans?.end(err as Error);
        await this.onRedisFailure(valid, poison, err as Error, spans?.logFields());
        return;
      }
      const ended = performance.now();
      spans?.applied(started, ended, valid.length, outcomes);
      metrics.applyDuration.observe((ended - started) / 1000);
      metrics.batchSize.observe(valid.length);
      const now = Date.now();
      let applied = 0;
      for (let i = 0; i < valid.length; i++) {
        const v = valid[i] as ValidMessage<JsMsg>;
        v.msg.ack();
        if (outcomes[i] === 'applied') {
          applied++;
          const seconds = Math.max(0, now - v.event.ts) / 1000;
          const traceId = spans?.traceIdAt(i);
          if (traceId) metrics.endToEndLag.observe({ value: seconds, exemplarLabels: { trace_id: traceId } });
          else metrics.endToEndLag.observe(seconds);
        }
      }
      spans?.end();
      this.d.onApplied?.(valid);
      metrics.events.inc({ outcome: 'applied' }, applied);
      metrics.events.inc({ outcome: 'stale' }, valid.length - applied);
      this.lifetime.applied += applied;
      this.lifetime.stale += valid.length - applied;
    }
    await this.deadLetter(poison);
    this.batches++;
    this.lifetime.events += batch.length;
  }

  private async deadLetter(poison: PoisonMessage<JsMsg>[]): Promise<void> {
    for (const { msg, reason } of poison) {
      try {
        await publishPoison(this.d.js, this.d.stream, {
          originalSeq: msg.seq,
          deliveries: msg.info.deliveryCount,
          reason,
          data: msg.data,
          trace: traceHeadersIn(msg.headers),
        });
        msg.term(reason);
        this.d.metrics.events.inc({ outcome: 'dead_lettered' });
        this.lifetime.deadLettered++;
        this.d.log.warn({ seq: msg.seq, reason }, 'poison message dead-lettered');
      } catch (err) {
        msg.nak(this.nakDelay(msg));
        this.d.log.error({ seq: msg.seq, err: (err as Error).message }, 'dead-letter publish failed; nak-ed');
      }
    }
  }

  private nakDelay(msg: JsMsg): number {
    return backoffMs(msg.info.deliveryCount, this.d.nakBaseDelayMs, this.d.nakMaxDelayMs);
  }

  /**
   * Hands the batch back and waits for Redis. With several apply loops, the first failure starts the one
   * recovery; every other loop that fails meanwhile (or is about to take a batch) waits for that same recovery,
   * so the pump is resumed once, when Redis answers, and never while another loop still hands events back.
   */
  private async onRedisFailure(
    valid: ValidMessage<JsMsg>[],
    poison: PoisonMessage<JsMsg>[],
    err: Error,
    traced: { trace_id: string; span_id: string } | undefined,
  ): Promise<void> {
    this.d.metrics.transientFailures.inc();
    for (const v of valid) v.msg.nak(this.nakDelay(v.msg));
    for (const p of poison) p.msg.nak(this.nakDelay(p.msg));
    if (!this.recovering) {
      this.d.log.error(
        { err: err.message, events: valid.length, ...traced },
        'redis apply failed; nak-ing batch and pausing pulls',
      );
      this.recovering = this.recover().finally(() => {
        this.recovering = null;
      });
    }
    await this.recovering;
  }

  private async recover(): Promise<void> {
    const { pump, queue, metrics, readiness, log } = this.d;
    this.recoveries++;
    pump.pause();
    readiness.set('redis', false);
    metrics.paused.set(1);
    // Hand back everything already pulled, including what the in-progress fetch still delivers.
    while (pump.busy || queue.size > 0) {
      for (const m of queue.takeAll()) m.nak(this.nakDelay(m));
      await sleep(50);
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await probeRedis(this.d.redis); // on a Cluster: every master, so a failover is over
        break;
      } catch {
        await sleep(backoffMs(attempt, 250, 5_000));
      }
    }
    log.info('redis is back; resuming pulls');
    readiness.set('redis', true);
    metrics.paused.set(0);
    pump.unpause();
  }

  /** Logs what was handled since the last summary line, if anything. */
  private logSummary(): void {
    const now = this.lifetime;
    const was = this.logged;
    if (now.events === was.events) return;
    const since: WorkerTotals = {
      events: now.events - was.events,
      applied: now.applied - was.applied,
      stale: now.stale - was.stale,
      deadLettered: now.deadLettered - was.deadLettered,
    };
    this.d.log.info({ batches: this.batches, ...since }, 'batch summary');
    this.batches = 0;
    this.logged = { ...now };
  }
}
