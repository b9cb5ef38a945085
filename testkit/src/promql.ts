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
