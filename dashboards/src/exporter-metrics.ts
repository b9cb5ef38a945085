/**
 * Metric names that only exist in a cluster, with where they come from. Dashboard queries that use them cannot
 * be checked against a local Prometheus, so the test checks each name against these lists instead.
 */
export const CLUSTER_METRICS: Record<string, string> = {
  // prometheus-nats-exporter, collector/jsz.go, run by the NATS chart with -prefix=nats -jsz=all.
  nats_consumer_num_pending: 'prometheus-nats-exporter (jsz)',
  nats_consumer_num_ack_pending: 'prometheus-nats-exporter (jsz)',
  nats_consumer_num_redelivered: 'prometheus-nats-exporter (jsz)',
  nats_consumer_num_waiting: 'prometheus-nats-exporter (jsz)',
  nats_consumer_delivered_stream_seq: 'prometheus-nats-exporter (jsz)',
  nats_consumer_delivered_consumer_seq: 'prometheus-nats-exporter (jsz)',
  nats_consumer_ack_floor_stream_seq: 'prometheus-nats-exporter (jsz)',
  nats_stream_total_messages: 'prometheus-nats-exporter (jsz)',
  nats_stream_total_bytes: 'prometheus-nats-exporter (jsz)',
  nats_stream_last_seq: 'prometheus-nats-exporter (jsz)',
  // KEDA operator metrics (keda_ prefix), scraped through the KEDA chart's PodMonitor.
  keda_scaler_metrics_value: 'KEDA operator',
  keda_scaler_active: 'KEDA operator',
  keda_scaler_detail_errors_total: 'KEDA operator',
  // kube-state-metrics (part of kube-prometheus-stack).
  kube_deployment_status_replicas: 'kube-state-metrics',
  kube_deployment_spec_replicas: 'kube-state-metrics',
  kube_horizontalpodautoscaler_status_desired_replicas: 'kube-state-metrics',
  kube_horizontalpodautoscaler_status_current_replicas: 'kube-state-metrics',
};
