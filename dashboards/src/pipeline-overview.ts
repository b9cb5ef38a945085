import { DashboardBuilder, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { datasourceVariable, grid, stat, timeseries } from './panels.js';

const rate = (metric: string) => `rate(${metric}[$__rate_interval])`;
const quantile = (q: number, histogram: string) =>
  `histogram_quantile(${q}, sum by (le) (${rate(`${histogram}_bucket`)}))`;

/**
 * kvflow pipeline overview: load, backlog, workers, latency, dead letters and errors. Replica panels carry both
 * the Kubernetes series (KEDA's HPA via kube-state-metrics) and the local scaler's, so the same dashboard works
 * in a cluster and with `npm run demo`.
 */
export function pipelineOverview() {
  return new DashboardBuilder('kvflow: pipeline overview')
    .uid('kvflow-pipeline')
    .description(
      'Writes into NATS JetStream, workers applying them to Redis, and the workers KEDA scales on the backlog',
    )
    .tags(['kvflow', 'keda', 'nats'])
    .refresh('10s')
    .time({ from: 'now-30m', to: 'now' })
    .withVariable(datasourceVariable())
    .withRow(new RowBuilder('Load and backlog'))
    .withPanel(
      timeseries({
        title: 'Produce rate: target vs actual',
        description: 'What the rate generator aims for, what it achieves, and all accepted writes by source',
        unit: 'reqps',
        grid: grid(0, 1, 12, 8),
        queries: [
          { expr: 'sum(kvflow_generator_target_rate)', legend: 'target' },
          { expr: 'sum(kvflow_generator_actual_rate)', legend: 'actual (generator)' },
          { expr: `sum by (src) (${rate('kvflow_events_produced_total')})`, legend: 'accepted: {{src}}' },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Applied by outcome',
        description:
          'applied = written to Redis; stale = a redelivery or an older event (fenced no-op); dead_lettered = poison',
        unit: 'reqps',
        grid: grid(12, 1, 12, 8),
        stacked: true,
        queries: [
          { expr: `sum by (outcome) (${rate('kvflow_events_applied_total')})`, legend: '{{outcome}}' },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Backlog (consumer lag)',
        description: 'num_pending + num_ack_pending of the durable consumer: the number KEDA scales on',
        unit: 'short',
        grid: grid(0, 9, 12, 8),
        queries: [
          { expr: 'max(kvflow_backlog)', legend: 'lag (kvflow)' },
          {
            expr: 'max by (scaledObject) (keda_scaler_metrics_value{scaler=~".*nats.*"})',
            legend: 'lag seen by KEDA',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Workers: desired vs current',
        description: 'Kubernetes: the HPA KEDA manages and the Deployment; on one machine: the local scaler',
        unit: 'short',
        grid: grid(12, 9, 12, 8),
        stepped: true,
        queries: [
          {
            expr: 'max(kube_horizontalpodautoscaler_status_desired_replicas{horizontalpodautoscaler=~"keda-hpa-.*consumer"})',
            legend: 'desired (HPA)',
          },
          {
            expr: 'max(kube_deployment_status_replicas{deployment=~".*consumer"})',
            legend: 'current (Deployment)',
          },
          { expr: 'max(kvflow_scaler_desired_replicas)', legend: 'desired (local scaler)' },
          { expr: 'max(kvflow_scaler_current_replicas)', legend: 'current (local scaler)' },
        ],
      }),
    )
    .withRow(new RowBuilder('Latency'))
    .withPanel(
      timeseries({
        title: 'End-to-end latency',
        description: 'From the producer accepting an event to a worker applying it',
        unit: 's',
        grid: grid(0, 18, 12, 8),
        queries: [
          { expr: quantile(0.5, 'kvflow_end_to_end_lag_seconds'), legend: 'p50' },
          { expr: quantile(0.99, 'kvflow_end_to_end_lag_seconds'), legend: 'p99' },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Publish and apply latency',
        description: 'Publish to stream ack (retries included); one batch applied to Redis',
        unit: 's',
        grid: grid(12, 18, 12, 8),
        queries: [
          { expr: quantile(0.99, 'kvflow_publish_duration_seconds'), legend: 'publish p99' },
          { expr: quantile(0.99, 'kvflow_apply_duration_seconds'), legend: 'apply batch p99' },
          {
            expr: `sum(${rate('kvflow_batch_size_sum')}) / sum(${rate('kvflow_batch_size_count')})`,
            legend: 'events per batch (avg)',
          },
        ],
      }),
    )
    .withRow(new RowBuilder('Failures'))
    .withPanel(
      stat({
        title: 'Dead letters (in range)',
        description: 'Poison events copied to the dead-letter stream during the selected range',
        unit: 'short',
        grid: grid(0, 27, 6, 6),
        queries: [
          {
            expr: 'sum(increase(kvflow_events_applied_total{outcome="dead_lettered"}[$__range]))',
            legend: 'dead letters',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Errors and redeliveries',
        description:
          'Failed publishes (the API answered 503), Redis failures (nak + pause), redeliveries, paused workers',
        unit: 'short',
        grid: grid(6, 27, 18, 6),
        queries: [
          { expr: `sum(${rate('kvflow_publish_failures_total')})`, legend: 'publish failures/s' },
          { expr: `sum(${rate('kvflow_transient_failures_total')})`, legend: 'Redis failures/s' },
          { expr: `sum(${rate('kvflow_redeliveries_total')})`, legend: 'redeliveries/s' },
          { expr: 'sum(kvflow_worker_paused)', legend: 'paused workers' },
        ],
      }),
    );
}
