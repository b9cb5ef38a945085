import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { pipelineSettings } from '@kvflow/common';
import { datasourceVariable, grid, nameVariable, stat, timeseries } from './panels.js';

/**
 * NATS JetStream as the prometheus-nats-exporter sidecar of the official NATS chart reports it (`-prefix=nats
 * -jsz=all`). Consumer numbers are only right on the consumer's leader, so every query keeps
 * is_consumer_leader="true" (each replica reports its own, mostly stale, view).
 */
const consumer = 'stream_name="$stream", consumer_name="$consumer", is_consumer_leader="true"';
/** Names as the settings schema defaults them (STREAM_NAME, CONSUMER_NAME, DLQ_STREAM_NAME). */
const names = pipelineSettings.parse({}).stream;

export function natsJetStream() {
  return new DashboardBuilder('kvflow: NATS JetStream')
    .uid('kvflow-nats-jetstream')
    .description(
      'The kvflow event stream and its workers consumer, from the NATS exporter (leader values only)',
    )
    .tags(['kvflow', 'nats'])
    .refresh('10s')
    .time({ from: 'now-30m', to: 'now' })
    .withVariable(datasourceVariable())
    .withVariable(nameVariable('stream', 'Event stream', names.stream))
    .withVariable(nameVariable('consumer', 'Workers consumer', names.consumer))
    .withVariable(nameVariable('dlq_stream', 'Dead-letter stream', names.dlqStream))
    .withPanel(
      timeseries({
        title: 'Consumer pending / ack pending',
        description:
          'num_pending: not yet delivered; num_ack_pending: delivered, not yet acknowledged. KEDA adds them.',
        unit: 'short',
        grid: grid(0, 0, 12, 8),
        queries: [
          { expr: `max(nats_consumer_num_pending{${consumer}})`, legend: 'pending' },
          { expr: `max(nats_consumer_num_ack_pending{${consumer}})`, legend: 'ack pending' },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Redelivered (unacknowledged)',
        description: 'Redelivered events not yet acknowledged: workers crashing, or Redis failing',
        unit: 'short',
        grid: grid(12, 0, 12, 8),
        queries: [{ expr: `max(nats_consumer_num_redelivered{${consumer}})`, legend: 'redelivered' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Delivery rate',
        description: 'Stream sequence delivered to the workers, per second',
        unit: 'reqps',
        grid: grid(0, 8, 12, 8),
        queries: [
          {
            expr: `max(rate(nats_consumer_delivered_stream_seq{${consumer}}[$__rate_interval]))`,
            legend: 'delivered/s',
          },
        ],
      }),
    )
    .withPanel(
      stat({
        title: 'Events stored / dead letters',
        description: 'Messages held by the event stream and by the dead-letter stream',
        unit: 'short',
        grid: grid(12, 8, 12, 8),
        queries: [
          {
            expr: 'max by (stream_name) (nats_stream_total_messages{stream_name=~"$stream|$dlq_stream", is_stream_leader="true"})',
            legend: '{{stream_name}}',
          },
        ],
      }),
    );
}
