import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

/** Small helpers so each dashboard file reads as a list of panels. */

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, resolved by Grafana, not JS.
export const DATASOURCE: common.DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

export interface Query {
  expr: string;
  legend: string;
}

function targets(queries: Query[]): cog.Builder<cog.Dataquery>[] {
  return queries.map((q, i) =>
    new DataqueryBuilder()
      .datasource(DATASOURCE)
      .expr(q.expr)
      .legendFormat(q.legend)
      .refId(String.fromCharCode(65 + i)),
  );
}

export function timeseries(opts: {
  title: string;
  description: string;
  unit: string;
  queries: Query[];
  grid: dashboard.GridPos;
  stacked?: boolean;
  stepped?: boolean;
}): TimeseriesBuilder {
  let panel = new TimeseriesBuilder()
    .title(opts.title)
    .description(opts.description)
    .datasource(DATASOURCE)
    .unit(opts.unit)
    .min(0)
    .gridPos(opts.grid)
    .lineWidth(2)
    .fillOpacity(opts.stacked ? 30 : 8)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom),
    );
  if (opts.stepped) panel = panel.lineInterpolation(common.LineInterpolation.StepAfter);
  if (opts.stacked)
    panel = panel.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  for (const t of targets(opts.queries)) panel = panel.withTarget(t);
  return panel;
}

export function stat(opts: {
  title: string;
  description: string;
  unit: string;
  queries: Query[];
  grid: dashboard.GridPos;
}): StatBuilder {
  let panel = new StatBuilder()
    .title(opts.title)
    .description(opts.description)
    .datasource(DATASOURCE)
    .unit(opts.unit)
    .gridPos(opts.grid)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']));
  for (const t of targets(opts.queries)) panel = panel.withTarget(t);
  return panel;
}

export function datasourceVariable(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus');
}

/**
 * A dashboard variable holding a stream or consumer name, filled in with kvflow's default (from the settings
 * schema); a deployment with other names types its own into the box.
 */
export function nameVariable(name: string, label: string, value: string): dashboard.TextBoxVariableBuilder {
  return new dashboard.TextBoxVariableBuilder(name)
    .label(label)
    .defaultValue(value)
    .current({ text: value, value });
}

export const grid = (x: number, y: number, w: number, h: number): dashboard.GridPos => ({ x, y, w, h });
