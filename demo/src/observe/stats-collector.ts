import type { LagReading } from '@kvflow/autoscale';
import type { StreamSettings } from '@kvflow/common';
import type { LocalScaler } from '../scaling/local-scaler.js';
import type { WorkerPool, WorkerState } from '../scaling/worker-pool.js';
import {
  addBuckets,
  bucketDelta,
  histogramBuckets,
  histogramQuantile,
  parsePromText,
  type Samples,
  sumOf,
} from './prom-text.js';

/** One second of the system, as the live view shows it and the report charts it. */
export interface Sample {
  t: number;
  targetRate: number;
  actualRate: number;
  lag: number | null;
  desired: number;
  current: number;
  appliedPerSec: number;
  e2eP50Ms: number | null;
  e2eP99Ms: number | null;
  deadLetters: number;
  published: number;
  /** Events/s arriving as the arrival-rate trigger reads it (null when that trigger is off). */
  arrivalRate?: number | null;
  /** End-to-end latency observations of this sample's interval, by bucket (upper bound -> count). */
  e2eBuckets?: Map<number, number>;
  /** The producer's rate profile, as it describes it (GET /rate). */
  profile: string | null;
  workers: Array<{ name: string; state: WorkerState; processed: number; restarts: number }>;
}

const E2E = 'kvflow_end_to_end_lag_seconds';
const WINDOW_S = 5;

async function scrape(port: number): Promise<Samples | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(800) });
    return res.ok ? parsePromText(await res.text()) : null;
  } catch {
    return null;
  }
}

/** Gathers a Sample each call: producer and worker metrics, lag and stream sizes from the monitoring endpoint. */
export class StatsCollector {
  private lastProcessed = new Map<string, number>();
  private lastBuckets = new Map<string, Map<number, number>>();
  private recentBuckets: Array<Map<number, number>> = [];
  private lastT = 0;

  constructor(
    private readonly deps: {
      producerPort: number;
      pool: WorkerPool;
      scaler: LocalScaler;
      readLag: () => Promise<LagReading>;
      stream: StreamSettings;
      /** Seconds on the run's clock (shared with the scaler, so samples and decisions line up). */
      now: () => number;
    },
  ) {}

  async sample(): Promise<Sample> {
    const t = this.deps.now();
    const dt = Math.max(t - this.lastT, 0.001);
    this.lastT = t;
    const [producer, reading, profile] = await Promise.all([
      scrape(this.deps.producerPort),
      this.deps.readLag().catch(() => null),
      fetch(`http://127.0.0.1:${this.deps.producerPort}/rate`, { signal: AbortSignal.timeout(800) })
        .then(async (r) => ((await r.json()) as { description?: string }).description ?? null)
        .catch(() => null),
    ]);
    const workers = this.deps.pool.snapshot();
    const scraped = await Promise.all(workers.map((w) => scrape(w.metricsPort)));
    let processedDelta = 0;
    const windowBuckets = new Map<number, number>();
    const seen = new Map<string, number>();
    const rows: Sample['workers'] = [];
    workers.forEach((w, i) => {
      const m = scraped[i];
      const processed = m ? sumOf(m, 'kvflow_events_applied_total') : (this.lastProcessed.get(w.name) ?? 0);
      processedDelta += Math.max(0, processed - (this.lastProcessed.get(w.name) ?? 0));
      seen.set(w.name, processed);
      if (m) {
        const buckets = histogramBuckets(m, E2E);
        addBuckets(windowBuckets, bucketDelta(buckets, this.lastBuckets.get(w.name)));
        this.lastBuckets.set(w.name, buckets);
      }
      rows.push({ name: w.name, state: w.state, processed, restarts: w.restarts });
    });
    this.lastProcessed = seen;
    this.recentBuckets.push(windowBuckets);
    if (this.recentBuckets.length > WINDOW_S) this.recentBuckets.shift();
    const merged = new Map<number, number>();
    for (const b of this.recentBuckets) addBuckets(merged, b);
    const p50 = histogramQuantile(0.5, merged);
    const p99 = histogramQuantile(0.99, merged);
    return {
      t,
      targetRate: producer ? sumOf(producer, 'kvflow_generator_target_rate') : 0,
      actualRate: producer ? sumOf(producer, 'kvflow_generator_actual_rate') : 0,
      lag: reading?.lag ?? null,
      desired: this.deps.scaler.desired,
      current: this.deps.pool.current,
      appliedPerSec: processedDelta / dt,
      e2eP50Ms: p50 === null ? null : p50 * 1000,
      e2eP99Ms: p99 === null ? null : p99 * 1000,
      arrivalRate: this.deps.scaler.lastRate,
      e2eBuckets: windowBuckets,
      deadLetters: reading?.streams.get(this.deps.stream.dlqStream)?.messages ?? 0,
      published: reading?.streams.get(this.deps.stream.stream)?.last_seq ?? 0,
      profile,
      workers: rows,
    };
  }
}
