import { autoscalingSchema, KedaHpaModel } from '@kvflow/autoscale';
import { describe, expect, it } from 'vitest';

type Step = { t: number; who: 'keda' | 'hpa'; lag: number; current: number; expect: number | null };

function run(settings: Record<string, unknown>, steps: Step[]) {
  const model = new KedaHpaModel(autoscalingSchema.parse(settings));
  return steps.map((s) => {
    const d = s.who === 'keda' ? model.kedaPoll(s.t, s.lag, s.current) : model.hpaSync(s.t, s.lag, s.current);
    return { ...s, got: d?.replicas ?? null, reason: d?.reason };
  });
}

function expectTrace(settings: Record<string, unknown>, steps: Step[]) {
  for (const r of run(settings, steps)) {
    expect({ t: r.t, who: r.who, lag: r.lag, current: r.current, replicas: r.got }).toEqual({
      t: r.t,
      who: r.who,
      lag: r.lag,
      current: r.current,
      replicas: r.expect,
    });
  }
}

const base = { lagThreshold: 100, activationLagThreshold: 10, maxReplicaCount: 10, cooldownPeriod: 60 };

describe('KEDA + HPA model (lag traces: time, lag, current replicas -> replicas)', () => {
  it('uses KEDA and HPA defaults for absent fields', () => {
    const s = autoscalingSchema.parse({});
    expect(s).toMatchObject({
      minReplicaCount: 0,
      maxReplicaCount: 100,
      pollingInterval: 30,
      cooldownPeriod: 300,
      lagThreshold: 10,
    });
    expect(s.behavior.scaleDown).toEqual({
      stabilizationWindowSeconds: 300,
      selectPolicy: 'Max',
      policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
    });
    expect(s.behavior.scaleUp.policies).toEqual([
      { type: 'Percent', value: 100, periodSeconds: 15 },
      { type: 'Pods', value: 4, periodSeconds: 15 },
    ]);
    expect(s.hpa).toEqual({ syncPeriodSeconds: 15, tolerance: 0.1 });
  });

  it('does not activate at the activation threshold, activates one above it', () => {
    expectTrace(base, [
      { t: 0, who: 'keda', lag: 10, current: 0, expect: null },
      { t: 15, who: 'hpa', lag: 10, current: 0, expect: null }, // the HPA never acts at zero
      { t: 30, who: 'keda', lag: 11, current: 0, expect: 1 },
    ]);
  });

  it('scales a big backlog to ceil(lag / lagThreshold), limited by max(100%, 4 pods) per 15 s, up to max', () => {
    expectTrace(base, [
      { t: 0, who: 'keda', lag: 5000, current: 0, expect: 1 },
      { t: 15, who: 'hpa', lag: 5000, current: 1, expect: 5 }, // 1 + max(100% -> 2, +4 -> 5)
      { t: 30, who: 'hpa', lag: 5000, current: 5, expect: 10 }, // 5 -> max(10, 9) = 10 = maxReplicaCount
      { t: 45, who: 'hpa', lag: 5000, current: 10, expect: null },
    ]);
  });

  it('counts earlier scale-ups in the policy period', () => {
    const fast = { ...base, maxReplicaCount: 50, hpa: { syncPeriodSeconds: 5 } };
    expectTrace(fast, [
      { t: 0, who: 'hpa', lag: 5000, current: 1, expect: 5 },
      // 5 s later the period (15 s) still holds the +4: periodStart = 1, limit max(2, 5) = 5: no change
      { t: 5, who: 'hpa', lag: 5000, current: 5, expect: null },
      { t: 16, who: 'hpa', lag: 5000, current: 5, expect: 10 },
    ]);
  });

  it('applies a Min select policy and Pods-only policies', () => {
    const cautious = {
      ...base,
      behavior: {
        scaleUp: {
          selectPolicy: 'Min',
          policies: [
            { type: 'Pods', value: 1, periodSeconds: 10 },
            { type: 'Percent', value: 50, periodSeconds: 10 },
          ],
        },
      },
    };
    expectTrace(cautious, [
      { t: 0, who: 'hpa', lag: 900, current: 2, expect: 3 }, // min(2+1, ceil(2*1.5)=3) = 3
      { t: 11, who: 'hpa', lag: 900, current: 3, expect: 4 }, // min(4, ceil(4.5)=5) = 4
    ]);
  });

  it('holds replicas up through the scale-down stabilization window, then scales down', () => {
    const s = { ...base, behavior: { scaleDown: { stabilizationWindowSeconds: 60 } } };
    expectTrace(s, [
      { t: 0, who: 'hpa', lag: 800, current: 8, expect: null },
      { t: 15, who: 'hpa', lag: 200, current: 8, expect: null }, // wants 2, but 8 was recommended 15 s ago
      { t: 45, who: 'hpa', lag: 200, current: 8, expect: null },
      { t: 61, who: 'hpa', lag: 200, current: 8, expect: 2 }, // the 8s left the window
    ]);
  });

  it('limits scale-down by the policy (50% per 30 s)', () => {
    const s = {
      ...base,
      behavior: {
        scaleDown: {
          stabilizationWindowSeconds: 0,
          policies: [{ type: 'Percent', value: 50, periodSeconds: 30 }],
        },
      },
    };
    expectTrace(s, [
      { t: 0, who: 'hpa', lag: 100, current: 8, expect: 4 },
      { t: 15, who: 'hpa', lag: 100, current: 4, expect: null }, // periodStart 8 -> floor(4) = 4
      { t: 31, who: 'hpa', lag: 100, current: 4, expect: 2 },
      { t: 62, who: 'hpa', lag: 100, current: 2, expect: 1 }, // wants 1 = HPA minReplicas
    ]);
  });

  it('does nothing inside the tolerance band', () => {
    expectTrace({ ...base, behavior: { scaleDown: { stabilizationWindowSeconds: 0 } } }, [
      { t: 0, who: 'hpa', lag: 439, current: 4, expect: null }, // ratio 1.0975: within 0.1
      { t: 15, who: 'hpa', lag: 361, current: 4, expect: null }, // ratio 0.9025: within 0.1
      { t: 30, who: 'hpa', lag: 450, current: 4, expect: 5 }, // ratio 1.125: ceil(4.5) = 5
      { t: 45, who: 'hpa', lag: 340, current: 5, expect: 4 }, // ratio 0.68: ceil(3.4) = 4
    ]);
  });

  it('scales at exactly 10% over: |1 - 1.1| is 0.10000000000000009 in float64, in Go as in JS', () => {
    expectTrace(base, [{ t: 0, who: 'hpa', lag: 440, current: 4, expect: 5 }]);
  });

  it('goes back to zero only after the cooldown at or below activation', () => {
    expectTrace(base, [
      { t: 0, who: 'keda', lag: 500, current: 0, expect: 1 },
      { t: 30, who: 'keda', lag: 10, current: 1, expect: null }, // inactive, last active at 0: 30 s < 60 s
      { t: 59, who: 'keda', lag: 0, current: 1, expect: null },
      { t: 60, who: 'keda', lag: 0, current: 1, expect: 0 },
    ]);
  });

  it('restarts the cooldown whenever lag goes above activation again', () => {
    expectTrace(base, [
      { t: 0, who: 'keda', lag: 500, current: 0, expect: 1 },
      { t: 50, who: 'keda', lag: 11, current: 1, expect: null },
      { t: 100, who: 'keda', lag: 0, current: 1, expect: null }, // 50 s since last active
      { t: 110, who: 'keda', lag: 0, current: 1, expect: 0 },
    ]);
  });

  it('keeps minReplicaCount when it is above zero, and never scales to zero', () => {
    expectTrace({ ...base, minReplicaCount: 2, behavior: { scaleDown: { stabilizationWindowSeconds: 0 } } }, [
      { t: 0, who: 'keda', lag: 0, current: 0, expect: 2 },
      { t: 100, who: 'keda', lag: 0, current: 2, expect: null },
      { t: 115, who: 'hpa', lag: 0, current: 3, expect: 2 },
    ]);
  });

  it('seeds the scale-down window on its first sync, as a new HPA does', () => {
    expectTrace({ ...base, behavior: { scaleDown: { stabilizationWindowSeconds: 30 } } }, [
      { t: 0, who: 'hpa', lag: 0, current: 3, expect: null },
      { t: 31, who: 'hpa', lag: 0, current: 3, expect: 1 },
    ]);
  });

  it('rejects bad settings with the field named', () => {
    expect(() => autoscalingSchema.parse({ maxReplicaCount: 0 })).toThrow(/maxReplicaCount/);
    expect(() => autoscalingSchema.parse({ minReplicaCount: 5, maxReplicaCount: 2 })).toThrow(
      /maxReplicaCount must be >= minReplicaCount/,
    );
  });
});
