import {
  autoscalingSchema,
  type JszResponse,
  KedaHpaModel,
  kedaRead,
  type LagTarget,
  lagFromJsz,
  newScalerMemory,
  runWalk,
  type ScalerMemory,
} from '@kvflow/autoscale';
import { describe, expect, it } from 'vitest';

// lag null: the scaler answered an error.
type Step = { t: number; who: 'keda' | 'hpa'; lag: number | null; current: number; expect: number | null };

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

  it('keeps the count at exactly 10% over and under: 1.34 tests (1 - tol) <= ratio <= (1 + tol)', () => {
    // 440 / 400 and 1 + 0.1 are the same float64 (the pre-1.33 |1 - ratio| <= tol made it 0.10000000000000009 > 0.1).
    expectTrace(base, [
      { t: 0, who: 'hpa', lag: 440, current: 4, expect: null },
      { t: 15, who: 'hpa', lag: 360, current: 4, expect: null },
      { t: 30, who: 'hpa', lag: 441, current: 4, expect: 5 },
    ]);
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

  it('sets maxReplicas at once when current is above it, past the window and the policies', () => {
    const s = {
      ...base,
      behavior: { scaleDown: { policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } },
    };
    expectTrace(s, [{ t: 0, who: 'hpa', lag: 0, current: 14, expect: 10 }]);
  });

  it('sets minReplicas at once when current is below it, past the scale-up policy', () => {
    const s = {
      ...base,
      minReplicaCount: 5,
      behavior: { scaleUp: { policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } },
    };
    expectTrace(s, [{ t: 0, who: 'hpa', lag: 0, current: 1, expect: 5 }]);
  });

  it('counts its clamp to maxReplicas as a scale event in the policy period', () => {
    const s = {
      ...base,
      behavior: {
        scaleDown: {
          stabilizationWindowSeconds: 0,
          policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }],
        },
      },
    };
    expectTrace(s, [
      { t: 0, who: 'hpa', lag: 100, current: 14, expect: 10 },
      { t: 15, who: 'hpa', lag: 100, current: 10, expect: 7 }, // periodStart 10 + 4 removed = 14 -> 50% = 7
    ]);
  });

  it("reuses the slot of a scale event older than its direction's longest period, as storeScaleEvent does", () => {
    const s = {
      ...base,
      maxReplicaCount: 50,
      behavior: {
        scaleUp: { policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }] },
        scaleDown: {
          stabilizationWindowSeconds: 0,
          policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }],
        },
      },
    };
    expectTrace(s, [
      { t: 0, who: 'hpa', lag: 5000, current: 1, expect: 5 }, // +4 at t=0
      { t: 20, who: 'hpa', lag: 5000, current: 5, expect: 9 }, // +4 at t=20 takes the outdated t=0 slot
      // periodStart (60 s) = 9 - 4 = 5 (the +4 of t=0 is gone), so 5 - 1 = 4 pods is the floor: 9 -> 4
      { t: 30, who: 'hpa', lag: 100, current: 9, expect: 4 },
    ]);
  });

  it('seeds its recommendations with the current count on first sight, whatever the windows', () => {
    const s = {
      ...base,
      behavior: { scaleUp: { stabilizationWindowSeconds: 60 }, scaleDown: { stabilizationWindowSeconds: 0 } },
    };
    expectTrace(s, [
      { t: 0, who: 'hpa', lag: 1000, current: 2, expect: null }, // the seeded 2 is the lowest in the scale-up window
      { t: 61, who: 'hpa', lag: 1000, current: 2, expect: 6 }, // the seed left the window: 2 + 4 pods
    ]);
  });

  it('seeds even when its first sync sees zero replicas (scaling disabled before KEDA activates)', () => {
    const s = { ...base, behavior: { scaleUp: { stabilizationWindowSeconds: 60 } } };
    expectTrace(s, [
      { t: 0, who: 'hpa', lag: 1000, current: 0, expect: null },
      { t: 0, who: 'keda', lag: 1000, current: 0, expect: 1 },
      { t: 15, who: 'hpa', lag: 1000, current: 1, expect: null }, // the seeded 0 caps the scale-up window
      { t: 61, who: 'hpa', lag: 1000, current: 1, expect: 5 },
    ]);
  });

  it('leaves a count below minReplicaCount to the HPA while active (KEDA raises it only when inactive)', () => {
    expectTrace({ ...base, minReplicaCount: 3 }, [
      { t: 0, who: 'keda', lag: 500, current: 1, expect: null },
      { t: 0, who: 'hpa', lag: 500, current: 1, expect: 3 },
      { t: 30, who: 'keda', lag: 0, current: 1, expect: 3 },
    ]);
  });

  it('holds on a scaler error without fallback: no activation, no cooldown, HPA only clamps', () => {
    expectTrace(base, [
      { t: 0, who: 'keda', lag: 500, current: 0, expect: 1 },
      { t: 30, who: 'keda', lag: null, current: 1, expect: null },
      { t: 100, who: 'keda', lag: null, current: 1, expect: null }, // 100 s > cooldown, but errors do not count
      { t: 105, who: 'hpa', lag: null, current: 1, expect: null },
      { t: 110, who: 'hpa', lag: null, current: 14, expect: 10 }, // the max/min clamps come before the metric
      { t: 130, who: 'keda', lag: 0, current: 1, expect: 0 }, // last active at t=0
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

describe('nats-jetstream scaler with a missing stream or consumer (KEDA v2.20, single server)', () => {
  const target: LagTarget = { account: '$G', stream: 'KVFLOW', consumer: 'workers' };
  const kvflow = (consumers: Array<{ leader?: string }>) => ({
    name: 'KVFLOW',
    state: { messages: 500, first_seq: 1, last_seq: 500 },
    consumer_detail: consumers.map((c) => ({
      name: 'workers',
      num_pending: 120,
      num_ack_pending: 30,
      num_redelivered: 0,
      ...(c.leader ? { cluster: { leader: c.leader } } : {}),
    })),
  });
  const jsz = (streams: ReturnType<typeof kvflow>[], clusterSize = 0): JszResponse => ({
    ...(clusterSize ? { meta_cluster: { cluster_size: clusterSize } } : {}),
    account_details: [{ name: '$G', id: '$G', stream_detail: streams }],
  });
  const endpoint = { monitorUrl: 'http://nats:8222', locate: () => ({ monitorUrl: 'http://nats:8222' }) };
  /** Successive reads through one cached scaler, as the operator and the metrics server share it. */
  function reads(bodies: JszResponse[]): Array<number | string> {
    let memory: ScalerMemory = newScalerMemory();
    return bodies.map((b) => {
      const r = runWalk(kedaRead(memory, target, endpoint), (req) =>
        req.kind === 'jsz' ? { kind: 'jsz', body: b } : { kind: 'varz', body: {} },
      );
      memory = r.memory;
      return 'error' in r ? r.error : r.reading.lag;
    });
  }

  const NO_CONSUMER = 'consumer "workers" not found in stream "KVFLOW"';

  it('errs on a stream it never found: a new scaler holds an empty stream, with no consumer (KEDA PR #7668)', () => {
    expect(() => lagFromJsz(jsz([]), '$G', 'KVFLOW', 'workers')).toThrow(NO_CONSUMER);
    expect(() => lagFromJsz({}, '$G', 'KVFLOW', 'workers')).toThrow(NO_CONSUMER); // no such account either
  });

  it("errs while the consumer is missing, on every read (before v2.20: the stream's last sequence)", () => {
    expect(reads([jsz([kvflow([{}])]), jsz([kvflow([])]), jsz([kvflow([])])])).toEqual([
      150,
      NO_CONSUMER,
      NO_CONSUMER,
    ]);
  });

  it('keeps the last lag it read after the stream is deleted: a single server names no consumer leader', () => {
    expect(reads([jsz([kvflow([{}])]), jsz([]), jsz([])])).toEqual([150, 150, 150]);
  });

  it('rebuilds the scaler on its first error and retries: with a leader cached, a deleted stream errs', () => {
    // "stream not found" (the cache dropped), then the rebuilt scaler's empty stream has no consumer.
    expect(reads([jsz([kvflow([{ leader: 'n1' }])]), jsz([]), jsz([])])).toEqual([
      150,
      NO_CONSUMER,
      NO_CONSUMER,
    ]);
  });

  it('errs on a cluster answer it cannot walk (the node walk is tested in keda-jetstream-scaler.test.ts)', () => {
    expect(() => lagFromJsz(jsz([], 3), '$G', 'KVFLOW', 'workers')).toThrow(/leader node not found/);
  });

  it('matches the account by id or by name', () => {
    const byId: JszResponse = {
      account_details: [{ name: 'other', id: '$G', stream_detail: [kvflow([{}])] }],
    };
    expect(lagFromJsz(byId, '$G', 'KVFLOW', 'workers').lag).toBe(150);
  });
});
