export { compileDashboards } from './build.js';
export { CLUSTER_METRICS } from './exporter-metrics.js';
