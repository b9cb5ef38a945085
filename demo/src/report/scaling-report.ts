import type { AutoscalingSettings } from '@kvflow/autoscale';
import type { Sample } from '../observe/stats-collector.js';
import type { ScalerDecision } from '../scaling/local-scaler.js';
import type { WorkerTotals } from '../scaling/worker-pool.js';
import { chartPage, escapeHtml, figuresTable, writeReportFiles } from './html-page.js';
import { loadEndsAt, loadStartsAt, type RateChange } from './scenarios.js';
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
}): ScalingSummary {
  const { samples, decisions, verification: v, worked } = input;
  const start = loadStartsAt(input.steps);
  const end = loadEndsAt(input.steps);
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
  ];
  const a = report.autoscaling;
  const settings =
    `lagThreshold ${a.lagThreshold}, activationLagThreshold ${a.activationLagThreshold}, ` +
    `min ${a.minReplicaCount}, max ${a.maxReplicaCount}, polling ${a.pollingInterval}s, cooldown ${a.cooldownPeriod}s, ` +
    `HPA sync ${a.hpa.syncPeriodSeconds}s, scale-down window ${a.behavior.scaleDown.stabilizationWindowSeconds}s`;
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
