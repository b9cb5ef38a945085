/** Medians, spreads, the printed table and the SVG chart of a benchmark run. */

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function spread(values: number[]): [number, number] {
  return [Math.min(...values), Math.max(...values)];
}

export interface Row {
  figure: string;
  kvflow: string;
  anchor: string;
  /** The number the target applies to (a ratio, or an absolute figure where there is no anchor). */
  value: number;
  target: { op: '>=' | '<='; limit: number } | null;
  /** Per-round values of `value`, when measured in rounds. */
  rounds?: number[];
}

export function met(r: Row): boolean | null {
  if (!r.target) return null;
  return r.target.op === '>=' ? r.value >= r.target.limit : r.value <= r.target.limit;
}

const fmt = (n: number) =>
  Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(n < 10 ? 2 : 1);

export function table(rows: Row[]): string {
  const head = ['figure', 'kvflow', 'anchor', 'ratio / value', 'target', 'met?'];
  const body = rows.map((r) => {
    const rounds = r.rounds && r.rounds.length > 1 ? ` (${spread(r.rounds).map(fmt).join('–')})` : '';
    const m = met(r);
    return [
      r.figure,
      r.kvflow,
      r.anchor,
      `${fmt(r.value)}${rounds}`,
      r.target ? `${r.target.op} ${r.target.limit}` : '',
      m === null ? 'reported' : m ? 'met' : 'NOT met',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * One bar per targeted figure: how far the measured value is from its target (value / limit for "at least"
 * targets, limit / value for "at most" ones), so 1.0 is the target line and longer is better for every figure.
 */
export function svgChart(rows: Row[], title: string): string {
  const targeted = rows.filter((r) => r.target);
  const barH = 22;
  const left = 330;
  const width = 820;
  const scaleMax = 2;
  const plotW = width - left - 60;
  const top = 50;
  const height = top + targeted.length * (barH + 10) + 40;
  const x = (score: number) => left + (Math.min(score, scaleMax) / scaleMax) * plotW;
  const bars = targeted.map((r, i) => {
    const t = r.target as NonNullable<Row['target']>;
    const score = t.op === '>=' ? r.value / t.limit : t.limit / Math.max(r.value, 1e-9);
    const y = top + i * (barH + 10);
    const colour = met(r) ? '#2e7d32' : '#c62828';
    return [
      `<text x="${left - 8}" y="${y + 15}" text-anchor="end" font-size="12">${xmlEscape(r.figure)}</text>`,
      `<rect x="${left}" y="${y}" width="${(x(score) - left).toFixed(1)}" height="${barH}" fill="${colour}"/>`,
      `<text x="${(x(score) + 4).toFixed(1)}" y="${y + 15}" font-size="11">${xmlEscape(`${fmt(r.value)} (${t.op} ${t.limit})`)}</text>`,
    ].join('');
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<title>${xmlEscape(title)}</title>
<rect width="100%" height="100%" fill="white"/>
<text x="${left}" y="24" font-size="15" font-weight="bold">${xmlEscape(title)}</text>
<text x="${left}" y="40" font-size="11" fill="#555">bar = value relative to its target (1.0 = target met exactly; longer is better; capped at ${scaleMax})</text>
${bars.join('\n')}
<line x1="${x(1)}" y1="${top - 6}" x2="${x(1)}" y2="${height - 30}" stroke="#000" stroke-dasharray="4 3"/>
<text x="${x(1)}" y="${height - 14}" font-size="11" text-anchor="middle">target</text>
</svg>
`;
}
