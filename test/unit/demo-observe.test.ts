import { jszUrl, lagFromJsz } from '@kvflow/autoscale';
import { describe, expect, it } from 'vitest';
import { renderLogLine, renderView } from '../../demo/src/observe/live-view.js';
import {
  histogramBuckets,
  histogramQuantile,
  parsePromText,
  sumOf,
} from '../../demo/src/observe/prom-text.js';
import type { Sample } from '../../demo/src/observe/stats-collector.js';

describe('Prometheus text and quantiles', () => {
  const text = [
    '# HELP kvflow_events_applied_total x',
    'kvflow_events_applied_total{outcome="applied"} 90',
    'kvflow_events_applied_total{outcome="stale"} 10',
    'h_bucket{le="0.001"} 50',
    'h_bucket{le="0.01"} 90',
    'h_bucket{le="0.1"} 100',
    'h_bucket{le="+Inf"} 100',
  ].join('\n');

  it('sums a metric over its labels', () => {
    expect(sumOf(parsePromText(text), 'kvflow_events_applied_total')).toBe(100);
  });

  it('computes quantiles as histogram_quantile does', () => {
    const b = histogramBuckets(parsePromText(text), 'h');
    expect(histogramQuantile(0.5, b)).toBeCloseTo(0.001); // rank 50 = top of the first bucket
    expect(histogramQuantile(0.7, b)).toBeCloseTo(0.001 + 0.009 * (20 / 40)); // interpolated in (0.001, 0.01]
    expect(histogramQuantile(0.99, b)).toBeCloseTo(0.01 + 0.09 * (9 / 10));
    expect(histogramQuantile(0.5, new Map([[Number.POSITIVE_INFINITY, 0]]))).toBeNull();
    expect(
      histogramQuantile(
        0.99,
        new Map([
          [1, 0],
          [Number.POSITIVE_INFINITY, 5],
        ]),
      ),
    ).toBe(1);
  });
});

describe('lag as KEDA reads it', () => {
  const body = {
    account_details: [
      {
        name: '$G',
        stream_detail: [
          {
            name: 'KVFLOW',
            state: { messages: 500, first_seq: 1, last_seq: 500 },
            consumer_detail: [{ name: 'workers', num_pending: 120, num_ack_pending: 30, num_redelivered: 0 }],
          },
          { name: 'KVFLOW_DLQ', state: { messages: 2, first_seq: 1, last_seq: 2 } },
        ],
      },
    ],
  };

  it('is num_pending + num_ack_pending of the consumer', () => {
    const r = lagFromJsz(body, '$G', 'KVFLOW', 'workers');
    expect(r).toMatchObject({ lag: 150, pending: 120, ackPending: 30, streamFound: true });
    expect(r.streams.get('KVFLOW_DLQ')?.messages).toBe(2);
  });

  it('errs when the consumer is missing, as KEDA v2.20 does (it used to answer the last sequence)', () => {
    expect(() => lagFromJsz(body, '$G', 'KVFLOW', 'nobody')).toThrow(
      'consumer "nobody" not found in stream "KVFLOW"',
    );
  });

  it('errs on a stream a new KEDA scaler never found (its empty stream has no consumer)', () => {
    expect(() => lagFromJsz(body, '$G', 'NOPE', 'workers')).toThrow(
      'consumer "workers" not found in stream "NOPE"',
    );
  });

  it('asks the same URL KEDA asks', () => {
    expect(jszUrl('http://nats:8222/', '$G')).toBe(
      'http://nats:8222/jsz?acc=%24G&consumers=true&config=true',
    );
  });
});

describe('live view', () => {
  const sample: Sample = {
    t: 3725,
    targetRate: 123456.7,
    actualRate: 99999.9,
    lag: 12345678,
    desired: 6,
    current: 5,
    appliedPerSec: 54321,
    e2eP50Ms: 12.3,
    e2eP99Ms: 4567,
    deadLetters: 1234567,
    published: 987654321,
    profile: 'burst 1000/s for 10s every 60s, else 0/s',
    workers: Array.from({ length: 7 }, (_, i) => ({
      name: `worker-${i + 10}`,
      state: i === 3 ? 'draining' : 'ready',
      processed: 1_234_567,
      restarts: i === 2 ? 3 : 0,
    })),
  };
  const ctx = {
    title: 'kvflow demo: scenario burst',
    lagThreshold: 500,
    activationLagThreshold: 5,
    maxReplicas: 6,
    lastDecision:
      'HPA 1 -> 5: scale-up rate limit (lag 4246, metric wants 9) and a much longer tail that overflows',
    error: null,
  };

  it('fits an 80-column terminal with big numbers and many workers', () => {
    const lines = renderView(sample, ctx, 80);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
    const text = lines.join('\n');
    expect(text).toContain('lag 12,345,678');
    expect(text).toContain('current 5  desired 6  max 6');
    expect(text).toContain('#12 ready↻3');
    expect(text).toContain('#13 draining');
    expect(lines[0]?.endsWith(' 62:05')).toBe(true);
    expect(text).toContain('#12 ready↻3 1,234,567');
  });

  it('shows the arrival rate the second trigger reads and the sizing rule, within 80 columns', () => {
    const withRate = {
      ...ctx,
      activationLagThreshold: 0,
      arrivalRate: { perWorkerRate: 200, activationThreshold: 0 },
    };
    const lines = renderView({ ...sample, arrivalRate: 912.4 }, withRate, 80);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
    const text = lines.join('\n');
    expect(text).toContain('wake above 0)');
    expect(text).toContain('arriving  912/s   (per worker 200/s, wake above 0/s)');
    expect(text).toContain('workers = max(ceil(lag / 500), ceil(arriving / 200))');
    expect(renderView(sample, ctx, 80).join('\n')).not.toContain('arriving');
  });

  it('says when there are no workers', () => {
    expect(renderView({ ...sample, workers: [], current: 0 }, ctx).join('\n')).toContain(
      'none (scaled to zero)',
    );
  });

  it('has a one-line form for logs', () => {
    expect(renderLogLine(sample)).toBe(
      't=3725s target=123,457/s actual=100,000/s lag=12345678 replicas=5/6 applied=54,321/s p99=4,567 ms dead_letters=1234567',
    );
  });
});
