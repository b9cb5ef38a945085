import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '@kvflow/stack';

const FUNCTIONS = new Set([
  'sum',
  'max',
  'min',
  'avg',
  'count',
  'rate',
  'irate',
  'increase',
  'histogram_quantile',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'offset',
  'topk',
  'bottomk',
  'abs',
  'clamp_min',
  'clamp_max',
  'delta',
  'deriv',
  'label_replace',
  'vector',
  'scalar',
  'time',
]);

/** Metric names a PromQL expression reads (label matchers, grouping labels and functions removed). */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, ' ') // grouping label lists
    .replace(/\[[^\]]*\]/g, ' ') // range selectors
    .replace(/"[^"]*"/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const next = stripped.slice((m.index ?? 0) + word.length).trimStart();
    if (FUNCTIONS.has(word) || next.startsWith('(') || !word.includes('_')) continue;
    names.add(word);
  }
  return [...names];
}

/** Grafana's range variables, replaced the way Grafana would for a short window. */
export function forPrometheus(expr: string): string {
  return expr.replaceAll('$__rate_interval', '30s').replaceAll('$__range', '5m');
}

export interface DashboardQuery {
  dashboard: string;
  panel: string;
  expr: string;
}

/** Every panel query of the dashboards the chart ships (charts/kvflow/dashboards/*.json). */
export function dashboardQueries(): DashboardQuery[] {
  type Panel = { title?: string; targets?: Array<{ expr: string }> };
  const dir = join(ROOT, 'charts/kvflow/dashboards');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as { title: string; panels: Panel[] })
    .flatMap((d) =>
      d.panels.flatMap((p) =>
        (p.targets ?? []).map((t) => ({ dashboard: d.title, panel: p.title ?? '', expr: t.expr })),
      ),
    );
}

/** Runs an instant query (`at`: unix seconds); the result, or an error naming the query and Prometheus' answer. */
export async function promQuery(promUrl: string, expr: string, at?: number): Promise<unknown[]> {
  const params = new URLSearchParams({ query: forPrometheus(expr) });
  if (at !== undefined) params.set('time', String(at));
  const res = await fetch(`${promUrl}/api/v1/query?${params}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error ?? res.status}`);
  return body.data?.result ?? [];
}
