import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Verification, WriteCounts } from './chaos-oracle.js';

/** One scenario's figures: one line on stdout, one entry in the report file. */
export interface ChaosFigures {
  scenario: string;
  writesAccepted: number;
  refused503: number;
  mismatches: number;
  /** Messages the workers received that had been delivered before (kvflow_redeliveries_total). */
  redeliveries: number;
  /** Events re-applied by kvflow's own data-loss repair (kvflow_redis_repaired_events_total). */
  repairedEvents: number;
  durationMs: number;
  /** What else the scenario measured (kills, recoveries, failover time…). */
  extra: Record<string, number | string>;
  /** Set once every check of the scenario passed. */
  passed: boolean;
}

/** The figures of the writes and their verification, as a scenario reports them. */
export function oracleFigures(
  counts: Readonly<WriteCounts>,
  verification: Verification | undefined,
): Pick<ChaosFigures, 'writesAccepted' | 'refused503' | 'mismatches'> {
  return {
    writesAccepted: counts.accepted,
    refused503: counts.refused,
    mismatches: verification ? verification.mismatches.length : -1,
  };
}

export function figuresLine(f: ChaosFigures): string {
  const extra = Object.entries(f.extra)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return (
    `chaos ${f.scenario}: ${f.writesAccepted} writes accepted, ${f.refused503} 503s, ${f.mismatches} mismatches, ` +
    `${f.redeliveries} redeliveries, ${f.repairedEvents} repaired events, ${(f.durationMs / 1000).toFixed(1)} s` +
    (extra ? ` (${extra})` : '') +
    (f.passed ? '' : ' [FAILED]')
  );
}

/** Collects the scenarios' figures; `write()` (in afterAll) saves whatever was collected, even after a failure. */
export class ChaosReport {
  private readonly scenarios: ChaosFigures[] = [];
  private readonly elsewhere: Array<{ scenario: string; test: string }> = [];

  constructor(private readonly path: string) {}

  /** A scenario another test file covers (its figures are in that file's output). */
  coveredBy(scenario: string, test: string): void {
    this.elsewhere.push({ scenario, test });
  }

  add(f: ChaosFigures): void {
    this.scenarios.push(f);
    console.log(figuresLine(f));
  }

  write(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    writeFileSync(
      this.path,
      `${JSON.stringify(
        { writtenAt: new Date().toISOString(), scenarios: this.scenarios, coveredElsewhere: this.elsewhere },
        null,
        2,
      )}\n`,
    );
  }
}
