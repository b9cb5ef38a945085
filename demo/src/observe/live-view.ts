import type { Sample } from './stats-collector.js';

/**
 * The live terminal view: a pure function from the latest sample to lines of at most `width` columns, and a
 * one-line form for logs when stdout is not a terminal.
 */

export interface ViewContext {
  title: string;
  lagThreshold: number;
  activationLagThreshold: number;
  /** The arrival-rate trigger, when it is on. */
  arrivalRate?: { perWorkerRate: number; activationThreshold: number } | null;
  maxReplicas: number;
  lastDecision: string | null;
  error: string | null;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const rate = (n: number) => (n >= 100 ? int(n) : n.toFixed(1));
/** A setting as written: whole numbers without decimals. */
const num = (n: number) => (Number.isInteger(n) ? int(n) : String(n));
const ms = (n: number | null) => (n === null ? '-' : n >= 100 ? `${int(n)} ms` : `${n.toFixed(1)} ms`);

function clip(line: string, width: number): string {
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`;
}

function bar(current: number, desired: number, max: number): string {
  const cells = Math.min(max, 20);
  const scale = (n: number) => Math.round((Math.min(n, max) / max) * cells);
  const c = scale(current);
  const d = Math.max(scale(desired), c);
  return `[${'█'.repeat(c)}${'▒'.repeat(d - c)}${'·'.repeat(cells - d)}]`;
}

export function renderView(s: Sample, ctx: ViewContext, width = 80): string[] {
  const clock = `${Math.floor(s.t / 60)}:${String(Math.floor(s.t % 60)).padStart(2, '0')}`;
  const lines = [
    `${`${ctx.title}`.padEnd(width - clock.length - 1)} ${clock}`,
    '─'.repeat(width),
    `produce   target ${rate(s.targetRate)}/s   actual ${rate(s.actualRate)}/s   stored ${int(s.published)}`,
    `          profile: ${s.profile ?? 'unknown (producer not answering)'}${s.targetRate === 0 ? '   (npm run rate -- 500)' : ''}`,
    `backlog   lag ${s.lag === null ? '?' : int(s.lag)}   (per worker ${int(ctx.lagThreshold)}, wake above ${int(ctx.activationLagThreshold)})`,
    ...(ctx.arrivalRate
      ? [
          `arriving  ${s.arrivalRate == null ? '?' : rate(s.arrivalRate)}/s   (per worker ${num(ctx.arrivalRate.perWorkerRate)}/s, wake above ${num(ctx.arrivalRate.activationThreshold)}/s)`,
        ]
      : []),
    `          workers = max(ceil(lag / ${int(ctx.lagThreshold)})${ctx.arrivalRate ? `, ceil(arriving / ${num(ctx.arrivalRate.perWorkerRate)})` : ''})`,
    `replicas  ${bar(s.current, s.desired, ctx.maxReplicas)} current ${s.current}  desired ${s.desired}  max ${ctx.maxReplicas}`,
    `          last: ${ctx.lastDecision ?? 'none yet'}`,
    `applied   ${rate(s.appliedPerSec)}/s   e2e p50 ${ms(s.e2eP50Ms)}  p99 ${ms(s.e2eP99Ms)}   dead letters ${int(s.deadLetters)}`,
    '─'.repeat(width),
  ];
  if (s.workers.length === 0) lines.push('workers   none (scaled to zero)');
  const cellWidth = Math.floor((width - 10) / 3);
  const cells = s.workers.map((w) => {
    const state = w.restarts > 0 ? `${w.state}↻${w.restarts}` : w.state;
    return clip(`${w.name.replace('worker-', '#')} ${state} ${int(w.processed)}`, cellWidth - 1).padEnd(
      cellWidth,
    );
  });
  for (let i = 0; i < cells.length; i += 3) {
    lines.push(`${i === 0 ? 'workers   ' : '          '}${cells.slice(i, i + 3).join('')}`.trimEnd());
  }
  if (ctx.error) lines.push(`! ${ctx.error}`);
  return lines.map((l) => clip(l, width));
}

export function renderLogLine(s: Sample): string {
  return [
    `t=${s.t.toFixed(0)}s`,
    `target=${rate(s.targetRate)}/s`,
    `actual=${rate(s.actualRate)}/s`,
    `lag=${s.lag ?? '?'}`,
    `replicas=${s.current}/${s.desired}`,
    `applied=${rate(s.appliedPerSec)}/s`,
    `p99=${ms(s.e2eP99Ms)}`,
    `dead_letters=${s.deadLetters}`,
  ].join(' ');
}
