import { type AutoscalingSettings, KedaHpaModel } from '@kvflow/autoscale';

/**
 * One reading of a recorded run: seconds since its start, the lag the scaler saw and the arrival rate the
 * prometheus trigger's query answered (null: the read failed).
 */
export interface LagSample {
  t: number;
  lag: number | null;
  rate?: number | null;
}

export interface ReplicaChange {
  at_s: number;
  by: 'keda' | 'hpa';
  from: number;
  to: number;
  reason: string;
}

export interface ModelReplay {
  decisions: ReplicaChange[];
  /** The model's replica count at each sample's time. */
  replicas: Array<{ t: number; replicas: number }>;
}

/** When each loop first ran, in the run's seconds (their phase): KEDA's poll and the HPA's sync. */
export interface LoopPhases {
  keda: number;
  hpa: number;
}

/**
 * The local scaler's model run over a recorded lag series: KEDA polls every `pollingInterval` and the HPA syncs every
 * `hpa.syncPeriodSeconds` from the given phases, each reading the latest sample at or before that instant. The
 * model's count follows its own decisions at once: both engines work from the scale target's spec.replicas, not from
 * running pods, so pod start-up does not delay the next decision.
 */
export function replayModel(
  settings: AutoscalingSettings,
  samples: LagSample[],
  phases: LoopPhases,
  initialReplicas = 0,
): ModelReplay {
  const model = new KedaHpaModel(settings);
  const end = samples.at(-1)?.t ?? 0;
  const ticks: Array<{ at: number; by: 'keda' | 'hpa' }> = [];
  for (let at = phases.keda; at <= end; at += settings.pollingInterval) ticks.push({ at, by: 'keda' });
  for (let at = phases.hpa; at <= end; at += settings.hpa.syncPeriodSeconds) ticks.push({ at, by: 'hpa' });
  ticks.sort((a, b) => a.at - b.at || (a.by === 'keda' ? -1 : 1));

  let current = initialReplicas;
  let next = 0;
  const decisions: ReplicaChange[] = [];
  const replicas: ModelReplay['replicas'] = [];
  const readingAt = (t: number) => {
    let reading: LagSample = { t, lag: null, rate: null };
    for (const s of samples) {
      if (s.t > t) break;
      reading = s;
    }
    return reading;
  };
  for (const sample of samples) {
    while (next < ticks.length && (ticks[next] as (typeof ticks)[number]).at <= sample.t) {
      const { at, by } = ticks[next++] as (typeof ticks)[number];
      const { lag, rate } = readingAt(at);
      const d =
        by === 'keda' ? model.kedaPoll(at, lag, current, rate) : model.hpaSync(at, lag, current, rate);
      if (d && d.replicas !== current) {
        decisions.push({ at_s: round(at), by, from: current, to: d.replicas, reason: d.reason });
        current = d.replicas;
      }
    }
    replicas.push({ t: sample.t, replicas: current });
  }
  return { decisions, replicas };
}

/**
 * The replica changes a real run made, from its spec.replicas series. Changes to or from 0 are KEDA's (its scale
 * executor sets the count directly); every other change is the HPA's.
 */
export function changesOf(series: Array<{ t: number; replicas: number }>): ReplicaChange[] {
  const out: ReplicaChange[] = [];
  for (let i = 1; i < series.length; i++) {
    const prev = series[i - 1] as (typeof series)[number];
    const cur = series[i] as (typeof series)[number];
    if (cur.replicas === prev.replicas) continue;
    const by = prev.replicas === 0 || cur.replicas === 0 ? 'keda' : 'hpa';
    out.push({ at_s: round(cur.t), by, from: prev.replicas, to: cur.replicas, reason: 'observed' });
  }
  return out;
}

export interface ModelDifference {
  what: string;
  real: string;
  model: string;
}

/**
 * Where the model and the real engines disagree, beyond timing: each real change must have a model change with the
 * same from -> to within `slackS` seconds (one loop period plus the sampling step, since the loops' phases and the
 * lag the engines read cannot be matched to the second), and the other way round.
 */
export function differences(
  real: ReplicaChange[],
  model: ReplicaChange[],
  slackS: number,
): ModelDifference[] {
  const out: ModelDifference[] = [];
  const unmatched = (from: ReplicaChange[], to: ReplicaChange[]) => {
    const used = new Set<number>();
    return from.filter((c) => {
      const i = to.findIndex(
        (m, j) => !used.has(j) && m.from === c.from && m.to === c.to && Math.abs(m.at_s - c.at_s) <= slackS,
      );
      if (i === -1) return true;
      used.add(i);
      return false;
    });
  };
  const show = (c: ReplicaChange) => `${c.from} -> ${c.to} at ${c.at_s} s (${c.by})`;
  for (const c of unmatched(real, model))
    out.push({ what: 'real change without a model change', real: show(c), model: '-' });
  for (const c of unmatched(model, real))
    out.push({ what: 'model change without a real change', real: '-', model: show(c) });
  return out;
}

const round = (t: number) => Math.round(t * 10) / 10;
