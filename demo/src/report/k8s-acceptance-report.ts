import type { AutoscalingSettings } from '@kvflow/autoscale';
import type { ModelDifference, ReplicaChange } from '../scaling/model-replay.js';
import { chartPage, escapeHtml, figuresTable, writeReportFiles } from './html-page.js';

/** One second of the acceptance run on the local Kubernetes node, as the API server and NATS showed it. */
export interface K8sSample {
  t: number;
  lag: number | null;
  /** What the ScaledObject's prometheus trigger query answered (null: no such trigger, or Prometheus failed). */
  arrival_rate: number | null;
  target_rate: number | null;
  actual_rate: number | null;
  /** The consumer Deployment's spec.replicas: what KEDA and the HPA set. */
  spec_replicas: number | null;
  ready_replicas: number;
  hpa_desired: number | null;
  keda_active: boolean | null;
}

export interface K8sAcceptanceReport {
  kubernetes_version: string;
  keda_version: string;
  autoscaling: AutoscalingSettings;
  rate: number;
  max_replicas: number;
  reached_zero: boolean;
  lost: number;
  state_matches_model: boolean;
  events_stored: number;
  dead_letters: number;
  redelivered: number;
  /** Seconds from `task update-rate` to the producer running the new target, and to measuring >= 90% of it. */
  rate_applied_s: number;
  rate_followed_s: number;
  pods_terminated: Array<{ pod: string; exitCode: number; reason: string }>;
  decisions_real: ReplicaChange[];
  decisions_model: ReplicaChange[];
  model_differences: ModelDifference[];
  series: Array<K8sSample & { model_replicas: number }>;
  /** The disruptions under load (test/k8s/write-load.ts: DisruptionResult), once they ran. */
  upgrade?: Disruption;
  rollback?: Disruption;
  nats_leader_deleted?: Disruption;
  redis_pod_deleted?: Disruption;
}

/** What a disruption phase measured under load (test/k8s/write-load.ts measures it). */
export interface Disruption {
  /** Keys whose value in Redis differs from the stream's model after the drain (verifyAgainstStream). */
  lost: number;
  /** Writes answered 202 whose value is not in Redis after the drain. */
  false_202: number;
  writes: number;
  accepted_202: number;
  responses_503: number;
  /** 503s without a Retry-After header (must be 0). */
  responses_503_without_retry_after: number;
  /** The longest stretch, in seconds, from a 503 to the next accepted write. */
  max_503_s: number;
  /** Requests that got no HTTP answer (connection refused or reset, timeout), and any other status, by kind. */
  other: Record<string, number>;
  /** Every kvflow container that ended during the phase, with its exit code. */
  pods_terminated: Array<{ pod: string; exitCode: number; reason: string }>;
  pods_exit_0: boolean;
  /** Seconds from the disruption's command to the cluster being whole again. */
  recovered_s: number;
}

export function renderK8sHtml(r: K8sAcceptanceReport): string {
  const rows: Array<[string, string]> = [
    ['Kubernetes / KEDA', `${r.kubernetes_version} / ${r.keda_version}`],
    [
      'rate set',
      `${r.rate} events/s (running in ${r.rate_applied_s} s, measured >= 90% in ${r.rate_followed_s} s)`,
    ],
    ['max replicas', String(r.max_replicas)],
    ['back to zero', r.reached_zero ? 'yes' : 'NO'],
    ['events stored', r.events_stored.toLocaleString('en-US')],
    ['lost', String(r.lost)],
    ['Redis state = stream model', r.state_matches_model ? 'yes' : 'NO'],
    ['dead letters / redelivered', `${r.dead_letters} / ${r.redelivered}`],
    ['worker pods stopped (exit codes)', r.pods_terminated.map((p) => p.exitCode).join(' ') || '-'],
    ['real decisions', r.decisions_real.map((d) => `${d.from}->${d.to}@${d.at_s}s`).join(', ')],
    ['model decisions', r.decisions_model.map((d) => `${d.from}->${d.to}@${d.at_s}s`).join(', ')],
  ];
  const diffs = r.model_differences.length
    ? `<table>${r.model_differences
        .map(
          (d) =>
            `<tr><td>${escapeHtml(d.what)}</td><td>real: ${escapeHtml(d.real)}</td><td>model: ${escapeHtml(d.model)}</td></tr>`,
        )
        .join('')}</table>`
    : '<p>The model made the same changes as KEDA and the HPA, each within one loop period.</p>';
  const body = `${figuresTable(rows, (k, v) => v === 'NO' || (k === 'lost' && v !== '0'))}
<div class="chart"><canvas id="load" aria-label="rate and lag over time"></canvas></div>
<div class="chart"><canvas id="replicas" aria-label="real and model replicas over time"></canvas></div>
<h2>Differences between the model and the real engines</h2>
${diffs}`;
  return chartPage('kvflow on a real single-node Kubernetes: KEDA + HPA vs the local model', body, r, CHARTS);
}

/** Load and lag; then the real replica counts beside the local model's on the same lag (see chartPage). */
const CHARTS = `[
    new Chart(document.getElementById('load'), {
      type: 'line',
      data: { labels: t, datasets: [
        line('lag (events)', 'lag', '#f04438', 'lag'),
        line('target rate (events/s)', 'target_rate', '#7a5af8', 'rate', { borderDash: [6, 4] }),
        line('actual rate (events/s)', 'actual_rate', '#2e90fa', 'rate'),
      ] },
      options: { ...common, plugins: { title: { display: true, text: 'Load and backlog (the lag KEDA reads)' } }, scales: loadScales },
    }),
    new Chart(document.getElementById('replicas'), {
      type: 'line',
      data: { labels: t, datasets: [
        line('real (Deployment spec.replicas)', 'spec_replicas', '#1d2939', 'n', { stepped: true }),
        line('ready pods', 'ready_replicas', '#12b76a', 'n', { stepped: true }),
        line('HPA desired', 'hpa_desired', '#f79009', 'n', { stepped: true, borderDash: [2, 3] }),
        line('local model', 'model_replicas', '#7a5af8', 'n', { stepped: true, borderDash: [6, 4] }),
      ] },
      options: { ...common, plugins: { title: { display: true, text: 'Workers: real KEDA + HPA and the local model on the same lag' } }, scales: workerScales },
    }),
  ]`;

export function writeK8sReport(dir: string, report: K8sAcceptanceReport): { json: string; html: string } {
  return writeReportFiles(dir, 'k8s-acceptance', report, renderK8sHtml(report));
}
