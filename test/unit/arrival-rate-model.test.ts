import { autoscalingSchema, CounterRate, extrapolatedRate, KedaHpaModel } from '@kvflow/autoscale';
import { describe, expect, it } from 'vitest';
import type { Sample } from '../../demo/src/observe/stats-collector.js';
import { scalingQuality } from '../../demo/src/report/scaling-report.js';

// rate / lag null: that trigger's scaler answered an error.
type Step = {
  t: number;
  who: 'keda' | 'hpa';
  lag: number | null;
  rate: number | null;
  current: number;
  expect: number | null;
};

const twoTriggers = {
  lagThreshold: 500,
  activationLagThreshold: 0,
  maxReplicaCount: 10,
  cooldownPeriod: 30,
  arrivalRate: { enabled: true, perWorkerRate: 200, activationThreshold: 0, windowSeconds: 10 },
  behavior: { scaleDown: { stabilizationWindowSeconds: 0 } },
};

function expectTrace(settings: Record<string, unknown>, steps: Step[]) {
  const model = new KedaHpaModel(autoscalingSchema.parse(settings));
  for (const s of steps) {
    const d =
      s.who === 'keda'
        ? model.kedaPoll(s.t, s.lag, s.current, s.rate)
        : model.hpaSync(s.t, s.lag, s.current, s.rate);
    expect({ ...s, expect: d?.replicas ?? null }, d?.reason).toEqual(s);
  }
}

describe('KEDA + HPA model with the arrival-rate trigger beside the lag', () => {
  it('sizes for what arrives when the workers keep up: lag ~0 no longer asks for one worker', () => {
    expectTrace(twoTriggers, [
      { t: 0, who: 'hpa', lag: 40, rate: 900, current: 5, expect: null }, // rate 900/200 -> 5; lag wants 1
      { t: 15, who: 'hpa', lag: 0, rate: 880, current: 5, expect: null }, // ceil(4.4) = 5
      { t: 30, who: 'hpa', lag: 0, rate: 905, current: 5, expect: null }, // within tolerance
    ]);
  });

  it('the same trace with the rate trigger off scales in to one worker (the oscillation it fixes)', () => {
    const lagOnly = { ...twoTriggers, arrivalRate: { enabled: false } };
    expectTrace(lagOnly, [{ t: 0, who: 'hpa', lag: 40, rate: 900, current: 5, expect: 1 }]);
  });

  it('takes the larger proposal: a backlog beyond what the rate asks for scales further', () => {
    expectTrace(twoTriggers, [
      { t: 0, who: 'hpa', lag: 3000, rate: 300, current: 2, expect: 6 }, // lag 6 > rate 2; +4 pods policy
      { t: 15, who: 'hpa', lag: 0, rate: 300, current: 6, expect: 2 },
    ]);
  });

  it('checks each metric against its own tolerance band', () => {
    expectTrace(twoTriggers, [
      // rate: 1050 / (200 * 5) = 1.05, within; lag: 0 -> proposal 0; the largest is 5 = current
      { t: 0, who: 'hpa', lag: 0, rate: 1050, current: 5, expect: null },
      // rate: 1150 / 1000 = 1.15, outside: ceil(5.75) = 6
      { t: 15, who: 'hpa', lag: 0, rate: 1150, current: 5, expect: 6 },
    ]);
  });

  it('a failed metric never scales down, but the other may still scale up (computeReplicasForMetrics)', () => {
    expectTrace(twoTriggers, [
      { t: 0, who: 'hpa', lag: null, rate: 100, current: 5, expect: null }, // rate alone wants 1: held
      { t: 15, who: 'hpa', lag: null, rate: 1500, current: 5, expect: 8 },
      { t: 30, who: 'hpa', lag: null, rate: null, current: 8, expect: null }, // both failed
      { t: 45, who: 'hpa', lag: 0, rate: 100, current: 8, expect: 1 },
    ]);
  });

  it('activates on any trigger: a single event waiting, or any arrival', () => {
    expectTrace(twoTriggers, [
      { t: 0, who: 'keda', lag: 0, rate: 0, current: 0, expect: null },
      { t: 2, who: 'keda', lag: 1, rate: 0, current: 0, expect: 1 },
      { t: 4, who: 'keda', lag: 0, rate: 0.5, current: 1, expect: null }, // already 1: KEDA leaves it alone
    ]);
    expectTrace(twoTriggers, [{ t: 0, who: 'keda', lag: 0, rate: 3.2, current: 0, expect: 1 }]);
  });

  it('scales to zero only after both are quiet for the cooldown; an active trigger restarts it', () => {
    expectTrace(twoTriggers, [
      { t: 0, who: 'keda', lag: 0, rate: 50, current: 1, expect: null }, // active: last active 0
      { t: 20, who: 'keda', lag: 0, rate: 0, current: 1, expect: null },
      { t: 30, who: 'keda', lag: 0, rate: 0, current: 1, expect: 0 },
    ]);
  });

  it('holds at a failed trigger when the other is inactive: no cooldown to zero (no fallback)', () => {
    expectTrace(twoTriggers, [
      { t: 0, who: 'keda', lag: 10, rate: 0, current: 1, expect: null },
      { t: 40, who: 'keda', lag: 0, rate: null, current: 1, expect: null },
      { t: 42, who: 'keda', lag: 0, rate: 0, current: 1, expect: 0 },
    ]);
  });

  it('does not refresh the cooldown while a trigger fails, even when the other is active (PartialTriggerError)', () => {
    expectTrace(twoTriggers, [
      { t: 0, who: 'keda', lag: 10, rate: 50, current: 1, expect: null }, // last active 0
      { t: 20, who: 'keda', lag: null, rate: 50, current: 1, expect: null }, // active, but not refreshed
      { t: 30, who: 'keda', lag: 0, rate: 0, current: 1, expect: 0 }, // 30 s after 0, not after 20
    ]);
  });

  it('a failed trigger does not stop the other from activating', () => {
    expectTrace(twoTriggers, [{ t: 0, who: 'keda', lag: null, rate: 20, current: 0, expect: 1 }]);
  });
});

describe("Prometheus's rate() over a counter's scrapes (extrapolatedRate)", () => {
  const scrapes = (from: number, to: number, step: number, perSecond: number, base = 0) =>
    Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => ({
      t: from + i * step,
      value: base + (from + i * step) * perSecond,
    }));

  it('reads a steady counter exactly, extrapolating to the window edges', () => {
    // Samples at 1, 3, .., 9 in (0, 10]: 4 s sampled, extrapolated by 1 s at each end.
    expect(extrapolatedRate(scrapes(1, 9, 2, 900, 10_000), 10, 10)).toBeCloseTo(900, 6);
  });

  it('answers 0 with fewer than two samples, as KEDA does for no data (ignoreNullValues)', () => {
    expect(extrapolatedRate([], 10, 10)).toBe(0);
    expect(extrapolatedRate([{ t: 9, value: 5 }], 10, 10)).toBe(0);
  });

  it('counts a reset: the value before it was already added', () => {
    const samples = [
      { t: 2, value: 100 },
      { t: 4, value: 300 },
      { t: 6, value: 50 }, // restarted: +50 since the reset
      { t: 8, value: 250 },
    ];
    // increase 200 + 300 (the reset adds the 300 before it) = 450... as Prometheus: last - first + pre-reset values
    const increase = 250 - 100 + 300;
    const factor = (6 + 1 + 1) / 6; // 6 s sampled, 1 s short of each edge (under 1.1 x the 2 s step)
    expect(extrapolatedRate(samples, 9, 8)).toBeCloseTo((increase * factor) / 8, 6);
  });

  it('does not extrapolate a counter below zero at the start', () => {
    const samples = [
      { t: 8, value: 10 },
      { t: 9, value: 20 },
    ];
    // toStart would be 0.5 s (threshold 1.1 s exceeded: 8 s to the edge), toZero = 1 s: 0.5 stays; toEnd 1 s
    // < 1.1 s stays 1 s: (10 * (1 + 0.5 + 1) / 1) / 10
    expect(extrapolatedRate(samples, 10, 10)).toBeCloseTo(2.5, 6);
  });

  it('keeps only one window of samples and follows a step within one window', () => {
    const r = new CounterRate(10);
    let value = 0;
    const read = new Map<number, number>();
    for (let t = 0; t <= 60; t += 2) {
      value += (t <= 30 ? 300 : 900) * 2;
      r.add(t, value);
      read.set(t, r.read(t));
    }
    expect(read.get(30)).toBeCloseTo(300, 6);
    expect(read.get(36)).toBeGreaterThan(300); // the step is in the window
    expect(read.get(42)).toBeCloseTo(900, 6); // and fills it one window after
    expect(read.get(60)).toBeCloseTo(900, 6);
  });
});

describe('scaling quality figures of a run (scalingQuality)', () => {
  const settings = autoscalingSchema.parse(twoTriggers);
  const sample = (t: number, current: number, targetRate: number, lag = 0): Sample => ({
    t,
    targetRate,
    actualRate: targetRate,
    lag,
    desired: current,
    current,
    appliedPerSec: targetRate,
    e2eP50Ms: null,
    e2eP99Ms: null,
    deadLetters: 0,
    published: 0,
    profile: null,
    workers: [],
    e2eBuckets: new Map([
      [0.01, t < 20 ? 0 : 9],
      [0.5, t < 20 ? 1 : 10],
      [Number.POSITIVE_INFINITY, t < 20 ? 1 : 10],
    ]),
  });

  it('counts changes after settling, the time to each steady count and worker-seconds against the ideal', () => {
    // 900/s from t=0 (ideal 5), 300/s from t=100 (ideal 2); settle = 10 + 0 + 2 x 15 = 40 s.
    const samples = [
      ...Array.from({ length: 100 }, (_, t) => sample(t, t < 4 ? 1 : t < 12 ? 6 : t === 70 ? 6 : 5, 900)),
      ...Array.from({ length: 100 }, (_, i) => sample(100 + i, i < 30 ? 5 : 2, 300)),
    ];
    const q = scalingQuality(
      samples,
      [
        { at: 0, rate: { rate: 900 }, label: '900/s' },
        { at: 100, rate: { rate: 300 }, label: '300/s' },
      ],
      200,
      settings,
    );
    expect(q.settle_s).toBe(40);
    expect(q.replica_changes_after_settling).toBe(2); // 5 -> 6 at 70 and back at 71
    expect(q.steps).toEqual([
      { at_s: 0, label: '900/s', steady_replicas: 5, to_steady_s: 4, last_change_s: 71 },
      { at_s: 100, label: '300/s', steady_replicas: 2, to_steady_s: 30, last_change_s: 30 },
    ]);
    expect(q.step_to_steady_s).toBe(4); // the step up's; the step down waits out its window
    const pods = 4 * 1 + 8 * 6 + 87 * 5 + 6 + 30 * 5 + 70 * 2;
    expect(q.pod_seconds_to_ideal).toBeCloseTo(pods / (100 * 5 + 100 * 2), 3);
    expect(q.e2e_p50_ms).toBeCloseTo(5.6, 1); // rank 5 of 10 in (0, 0.01]: settled samples only
    expect(q.max_lag).toBe(0);
  });
});
