import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { natsJetStream } from './nats-jetstream.js';
import { pipelineOverview } from './pipeline-overview.js';

/** Every dashboard, compiled: file name -> JSON text (stable formatting, so git diffs stay readable). */
export function compileDashboards(): Record<string, string> {
  const dashboards: Dashboard[] = [pipelineOverview().build(), natsJetStream().build()];
  return Object.fromEntries(dashboards.map((d) => [`${d.uid}.json`, `${JSON.stringify(d, null, 2)}\n`]));
}
