import type { AutoscalingSettings } from '@kvflow/autoscale';
import { histogramQuantile } from '../observe/prom-text.js';
import type { Sample } from '../observe/stats-collector.js';
import type { ScalerDecision } from '../scaling/local-scaler.js';
import type { WorkerTotals } from '../scaling/worker-pool.js';
import { chartPage, escapeHtml, figuresTable, writeReportFiles } from './html-page.js';
import { loadEndsAt, loadSegments, loadStartsAt, type RateChange } from './scenarios.js';
import type { SingleWrite } from './single-write.js';
import type { Verification } from './verify.js';

export interface ScalingSummary {
  max_replicas: number;
  /** Seconds from the load starting to the first worker being started (0 -> 1). */
  time_to_first_scale_up_s: number | null;
  /** Seconds from the load ending to replicas reaching 0 again (null if they did not within the run). */
  time_back_to_zero_s: number | null;
  events_published: number;
  /** Events workers applied and acknowledged (fence passed, or already current). */
  events_applied: number;
  /** Valid events whose effect is missing from Redis, plus events still pending at the end. */
  lost: number;
  /** Applications beyond one per event: impossible with the sequence fence, so anything but 0 is a bug. */
  duplicates_applied: number;
  /** Extra deliveries (harmless, fenced no-ops). */
  redelivered: number;
  dead_letters: number;
  state_matches_model: boolean;
  /**
   * Seconds after each change of the load that count as settling: the arrival rate's window, the scale-down
   * stabilization window and two HPA syncs (what the rules need at most to reach a new count).
   */
  settle_s: number;
  /** Changes of the running worker count inside loaded stretches, once each has settled. */
  replica_changes_after_settling: number;
  /**
   * Per loaded step: the count it ended with, the seconds from the step until that count first ran (at least that
   * many after a step up, at most after a step down) and until the last change (an overshoot coming back).
   */
  steps: Array<{
    at_s: number;
    label: string;
    steady_replicas: number;
    to_steady_s: number | null;
    last_change_s: number;
  }>;
  /** The slowest step up's time to its steady count (steps down wait out the scale-down window by design). */
  step_to_steady_s: number | null;
  /**
   * Worker-seconds running over loaded stretches divided by the ideal: ceil(target rate / perWorkerRate) within
   * [max(minReplicaCount, 1), maxReplicaCount], integrated over the same time.
   */
  pod_seconds_to_ideal: number | null;
  /** End-to-end latency over the settled loaded stretches (workers' histograms, merged). */
  e2e_p50_ms: number | null;
  e2e_p99_ms: number | null;
  /** The same over the whole run, ramps included. */
  e2e_p99_ms_whole_run: number | null;
  max_lag: number;
  max_lag_after_settling: number;
  /** The scenario's single writes at idle: read-back status (200: applied) and milliseconds to it. */
  single_writes: SingleWrite[];
}

export interface ScalingReport {
  scenario: string;
  description: string;
  duration_s: number;
  autoscaling: AutoscalingSettings;
  summary: ScalingSummary;
  decisions: Array<{ at_s: number; by: string; from: number; to: number; reason: string }>;
  series: Array<{
    t: number;
    target_rate: number;
    actual_rate: number;
    lag: number | null;
    arrival_rate: number | null;
    desired_replicas: number;
    current_replicas: number;
    applied_per_s: number;
    e2e_p50_ms: number | null;
    e2e_p99_ms: number | null;
    dead_letters: number;
  }>;
}

/** The summary numbers, from the run's samples and decisions and the final verification. Pure. */
export function summarize(input: {
  samples: Sample[];
  decisions: ScalerDecision[];
  steps: RateChange[];
  verification: Verification;
  /** Lifetime totals reported by every worker when it drained. */
  worked: WorkerTotals;
  pendingAtEnd: number;
  deadLetters: number;
  autoscaling: AutoscalingSettings;
  durationS: number;
  singleWrites?: SingleWrite[];
}): ScalingSummary {
  const { samples, decisions, verification: v, worked, autoscaling: a } = input;
  const start = loadStartsAt(input.steps);
  const end = loadEndsAt(input.steps, input.durationS);
  const firstUp = decisions.find((d) => d.from === 0 && d.replicas > 0 && d.at >= start);
  let backToZero: number | null = null;
  let wasUp = false;
  for (const s of samples) {
    if (s.current > 0) wasUp = true;
    if (wasUp && s.t >= end && s.current === 0) {
      backToZero = s.t - end;
      break;
    }
  }
  const processed = worked.applied + worked.stale;
  return {
    max_replicas: Math.max(0, ...samples.map((s) => s.current), ...decisions.map((d) => d.replicas)),
    time_to_first_scale_up_s: firstUp ? round(firstUp.at - start) : null,
    time_back_to_zero_s: round(backToZero),
    events_published: v.published,
    events_applied: processed,
    lost: input.pendingAtEnd + v.mismatchedKeys,
    duplicates_applied: Math.max(0, worked.applied - v.valid),
    redelivered: Math.max(0, processed - v.valid),
    dead_letters: input.deadLetters,
    state_matches_model: v.mismatchedKeys === 0,
    ...scalingQuality(samples, input.steps, input.durationS, a),
    single_writes: input.singleWrites ?? [],
  };
}

export function settleSeconds(a: AutoscalingSettings): number {
  return (
    (a.arrivalRate.enabled ? a.arrivalRate.windowSeconds : 0) +
    a.behavior.scaleDown.stabilizationWindowSeconds +
    2 * a.hpa.syncPeriodSeconds
  );
}

/** How well the count followed the load: the figures of a run's loaded stretches. Pure. */
export function scalingQuality(
  samples: Sample[],
  steps: RateChange[],
  durationS: number,
  a: AutoscalingSettings,
): Pick<
  ScalingSummary,
  | 'settle_s'
  | 'replica_changes_after_settling'
  | 'steps'
  | 'step_to_steady_s'
  | 'pod_seconds_to_ideal'
  | 'e2e_p50_ms'
  | 'e2e_p99_ms'
  | 'e2e_p99_ms_whole_run'
  | 'max_lag'
  | 'max_lag_after_settling'
> {
  const settle = settleSeconds(a);
  const floor = Math.max(a.minReplicaCount, 1);
  const ideal = (rate: number) =>
    Math.min(a.maxReplicaCount, Math.max(floor, Math.ceil(rate / a.arrivalRate.perWorkerRate)));
  let changes = 0;
  let podSeconds = 0;
  let idealSeconds = 0;
  let maxLagSettled = 0;
  const settled = new Map<number, number>();
  const whole = new Map<number, number>();
  const add = (into: Map<number, number>, from: Map<number, number> | undefined) => {
    for (const [le, n] of from ?? []) into.set(le, (into.get(le) ?? 0) + n);
  };
  const stepFigures: ScalingSummary['steps'] = [];
  const upSteps: ScalingSummary['steps'] = [];
  for (const seg of loadSegments(steps, durationS)) {
    const inSeg = samples.filter((s) => s.t >= seg.from && s.t < seg.to);
    const last = inSeg.at(-1);
    if (!last) continue;
    let lastChange = seg.from;
    const before = samples.filter((s) => s.t < seg.from).at(-1)?.current ?? 0;
    const up = last.current >= before;
    const reached = inSeg.find((s) => (up ? s.current >= last.current : s.current <= last.current));
    for (let i = 0; i < inSeg.length; i++) {
      const s = inSeg[i] as Sample;
      const prev = inSeg[i - 1];
      if (prev && prev.current !== s.current) {
        lastChange = s.t;
        if (s.t >= seg.from + settle) changes++;
      }
      const next = inSeg[i + 1];
      const dt = (next?.t ?? Math.min(seg.to, s.t + 1)) - s.t;
      podSeconds += s.current * dt;
      idealSeconds += ideal(s.targetRate) * dt;
      if (s.t >= seg.from + settle) {
        add(settled, s.e2eBuckets);
        maxLagSettled = Math.max(maxLagSettled, s.lag ?? 0);
      }
    }
    stepFigures.push({
      at_s: seg.from,
      label: seg.step.label,
      steady_replicas: last.current,
      to_steady_s: reached ? round(Math.max(0, reached.t - seg.from)) : null,
      last_change_s: round(lastChange - seg.from) as number,
    });
    if (up) upSteps.push(stepFigures.at(-1) as ScalingSummary['steps'][number]);
  }
  for (const s of samples) add(whole, s.e2eBuckets);
  const ms = (q: number, b: Map<number, number>) => {
    const v = histogramQuantile(q, b);
    return v === null ? null : round(v * 1000);
  };
  return {
    settle_s: settle,
    replica_changes_after_settling: changes,
    steps: stepFigures,
    step_to_steady_s: upSteps.length
      ? Math.max(...upSteps.map((f) => f.to_steady_s ?? Number.POSITIVE_INFINITY))
      : null,
    pod_seconds_to_ideal: idealSeconds > 0 ? round(podSeconds / idealSeconds, 3) : null,
    e2e_p50_ms: ms(0.5, settled),
    e2e_p99_ms: ms(0.99, settled),
    e2e_p99_ms_whole_run: ms(0.99, whole),
    max_lag: Math.max(0, ...samples.map((s) => s.lag ?? 0)),
    max_lag_after_settling: maxLagSettled,
  };
}

function round(n: number | null, digits = 1): number | null {
  return n === null ? null : Number(n.toFixed(digits));
}

export function buildReport(input: {
  scenario: string;
  description: string;
  durationS: number;
  autoscaling: AutoscalingSettings;
  samples: Sample[];
  decisions: ScalerDecision[];
  summary: ScalingSummary;
}): ScalingReport {
  return {
    scenario: input.scenario,
    description: input.description,
    duration_s: input.durationS,
    autoscaling: input.autoscaling,
    summary: input.summary,
    decisions: input.decisions.map((d) => ({
      at_s: round(d.at) as number,
      by: d.by,
      from: d.from,
      to: d.replicas,
      reason: d.reason,
    })),
    series: input.samples.map((s) => ({
      t: round(s.t) as number,
      target_rate: round(s.targetRate) as number,
      actual_rate: round(s.actualRate) as number,
      lag: s.lag,
      arrival_rate: round(s.arrivalRate ?? null),
      desired_replicas: s.desired,
      current_replicas: s.current,
      applied_per_s: round(s.appliedPerSec) as number,
      e2e_p50_ms: round(s.e2eP50Ms),
      e2e_p99_ms: round(s.e2eP99Ms),
      dead_letters: s.deadLetters,
    })),
  };
}

export function renderHtml(report: ScalingReport): string {
  const s = report.summary;
  const rows: Array<[string, string]> = [
    ['max replicas', String(s.max_replicas)],
    [
      'time to first scale-up',
      s.time_to_first_scale_up_s === null ? 'never' : `${s.time_to_first_scale_up_s} s`,
    ],
    [
      'time back to zero',
      s.time_back_to_zero_s === null ? 'not within the run' : `${s.time_back_to_zero_s} s`,
    ],
    ['events published', s.events_published.toLocaleString('en-US')],
    ['events applied', s.events_applied.toLocaleString('en-US')],
    ['lost', String(s.lost)],
    ['duplicates applied', String(s.duplicates_applied)],
    ['redelivered (fenced no-ops)', String(s.redelivered)],
    ['dead letters', String(s.dead_letters)],
    ['Redis state = stream model', s.state_matches_model ? 'yes' : 'NO'],
    [`replica changes after settling (${s.settle_s} s)`, String(s.replica_changes_after_settling)],
    ['slowest step up to its steady count', s.step_to_steady_s === null ? '-' : `${s.step_to_steady_s} s`],
    ['worker-seconds / ideal', s.pod_seconds_to_ideal === null ? '-' : String(s.pod_seconds_to_ideal)],
    ['e2e p50 / p99 (settled)', `${s.e2e_p50_ms ?? '-'} / ${s.e2e_p99_ms ?? '-'} ms`],
    ['e2e p99 (whole run)', `${s.e2e_p99_ms_whole_run ?? '-'} ms`],
    ['max lag (whole run / settled)', `${s.max_lag} / ${s.max_lag_after_settling}`],
    ...s.single_writes.map((w): [string, string] => [
      `one write at ${w.at_s} s (${w.workers_before} workers)`,
      `${w.status === 200 ? 'applied' : `HTTP ${w.status}`} after ${w.applied_ms} ms`,
    ]),
  ];
  const a = report.autoscaling;
  const settings =
    `lagThreshold ${a.lagThreshold}, activationLagThreshold ${a.activationLagThreshold}, ` +
    `min ${a.minReplicaCount}, max ${a.maxReplicaCount}, polling ${a.pollingInterval}s, cooldown ${a.cooldownPeriod}s, ` +
    `HPA sync ${a.hpa.syncPeriodSeconds}s, scale-down window ${a.behavior.scaleDown.stabilizationWindowSeconds}s` +
    (a.arrivalRate.enabled
      ? `, arrival rate per worker ${a.arrivalRate.perWorkerRate}/s over ${a.arrivalRate.windowSeconds}s`
      : ', arrival-rate trigger off');
  const body = `<p class="sub">${escapeHtml(report.description)} (${report.duration_s} s). ${escapeHtml(settings)}.</p>
${figuresTable(rows, (k, v) => /^(NO|[1-9])/.test(v) && /lost|duplicates|state/.test(k))}
<div class="chart"><canvas id="load" aria-label="produce rate, applied rate and lag over time"></canvas></div>
<div class="chart"><canvas id="replicas" aria-label="desired and current workers over time"></canvas></div>`;
  return chartPage(`kvflow scaling report: ${report.scenario}`, body, report, CHARTS);
}

/** The report's two charts (see chartPage for the helpers in scope). */
const CHARTS = `[
    new Chart(document.getElementById('load'), {
      type: 'line',
      data: { labels: t, datasets: [
        line('target rate (events/s)', 'target_rate', '#7a5af8', 'rate', { borderDash: [6, 4] }),
        line('actual rate (events/s)', 'actual_rate', '#2e90fa', 'rate'),
        line('applied (events/s)', 'applied_per_s', '#12b76a', 'rate'),
        line('arrival rate, as the trigger reads it (events/s)', 'arrival_rate', '#98a2b3', 'rate'),
        line('lag (events)', 'lag', '#f04438', 'lag', { fill: false }),
      ] },
      options: { ...common, plugins: { title: { display: true, text: 'Load and backlog' } }, scales: loadScales },
    }),
    new Chart(document.getElementById('replicas'), {
      type: 'line',
      data: { labels: t, datasets: [
        line('desired workers', 'desired_replicas', '#f79009', 'n', { stepped: true, borderDash: [6, 4] }),
        line('current workers', 'current_replicas', '#1d2939', 'n', { stepped: true }),
      ] },
      options: { ...common, plugins: { title: { display: true, text: 'Workers (KEDA + HPA rules)' } }, scales: workerScales },
    }),
  ]`;

export function writeReport(dir: string, report: ScalingReport): { json: string; html: string } {
  return writeReportFiles(dir, 'scaling-report', report, renderHtml(report));
}
