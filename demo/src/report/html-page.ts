import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Chart.js (UMD build) read from node_modules and inlined, so a report is one file that opens offline. */
function chartJsSource(): string {
  const require = createRequire(import.meta.url);
  // The package exports only its module entry (dist/chart.cjs); the UMD build sits beside it.
  return readFileSync(join(dirname(require.resolve('chart.js')), 'chart.umd.min.js'), 'utf8');
}

export const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** A two-column table of figures; `bad` marks the rows whose value is a failure. */
export function figuresTable(
  rows: Array<[string, string]>,
  bad: (key: string, value: string) => boolean = () => false,
) {
  return `<table>${rows
    .map(
      ([k, v]) =>
        `<tr><td>${escapeHtml(k)}</td><td${bad(k, v) ? ' class="bad"' : ''}>${escapeHtml(v)}</td></tr>`,
    )
    .join('')}</table>`;
}

/**
 * One self-contained HTML report: `body` (HTML) then the charts. `charts` is JavaScript for the array of Chart.js
 * charts, written with the helpers in scope: `report` (the data), `t` (its series' times), `line(label, key, color,
 * axis, extra)` (a dataset from a series field), `common`, `loadScales` (events/s and lag axes) and
 * `workerScales` (shared options; the report has `autoscaling.maxReplicaCount`). The page sets
 * `window.kvflowCharts` and `body[data-rendered]`, which the tests check in a headless browser.
 */
export function chartPage(
  title: string,
  body: string,
  report: { series: unknown[] },
  charts: string,
): string {
  // JSON inside a <script> block: escape "<" so the data can never close the tag.
  const data = JSON.stringify(report).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2330; max-width: 1100px; }
  h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; } p.sub { color: #5b6475; margin: 0 0 16px; }
  table { border-collapse: collapse; margin-bottom: 20px; } td { padding: 3px 14px 3px 0; vertical-align: top; }
  td:first-child { color: #5b6475; } .chart { position: relative; height: 300px; margin-bottom: 24px; }
  .bad { color: #b42318; font-weight: 600; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
<script>${chartJsSource()}</script>
<script id="report-data" type="application/json">${data}</script>
<script>
  const report = JSON.parse(document.getElementById('report-data').textContent);
  const t = report.series.map((p) => p.t);
  const line = (label, key, color, axis, extra = {}) => ({
    label, data: report.series.map((p) => p[key]), borderColor: color, backgroundColor: color,
    yAxisID: axis, pointRadius: 0, borderWidth: 2, ...extra,
  });
  const common = { animation: false, responsive: true, maintainAspectRatio: false, interaction: { mode: 'index', intersect: false } };
  const time = { type: 'linear', title: { display: true, text: 'seconds' } };
  const loadScales = {
    x: time,
    rate: { type: 'linear', position: 'left', beginAtZero: true, title: { display: true, text: 'events/s' } },
    lag: { type: 'linear', position: 'right', beginAtZero: true, title: { display: true, text: 'lag' }, grid: { drawOnChartArea: false } },
  };
  const workerScales = {
    x: time,
    n: { type: 'linear', beginAtZero: true, suggestedMax: report.autoscaling.maxReplicaCount, ticks: { stepSize: 1 }, title: { display: true, text: 'workers' } },
  };
  window.kvflowCharts = ${charts.trim()};
  document.body.dataset.rendered = 'true';
</script>
</body>
</html>
`;
}

/** Writes `<name>.json` and `<name>.html` into `dir`. */
export function writeReportFiles(dir: string, name: string, report: unknown, html: string) {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, `${name}.json`);
  const page = join(dir, `${name}.html`);
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(page, html);
  return { json, html: page };
}
