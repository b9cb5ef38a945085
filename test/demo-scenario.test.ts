import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '@kvflow/stack';
import { spawnService } from '@kvflow/testkit';
import { describe, expect, it } from 'vitest';
import type { ScalingReport } from '../demo/src/report/scaling-report.js';
import { renderReport } from './report-charts.js';

const DURATION_S = 75;

describe('one-machine scaling demo (acceptance)', () => {
  const out = mkdtempSync(join(tmpdir(), 'kvflow-report-'));
  let report: ScalingReport;

  it(`the burst scenario goes 0 -> at least 3 workers -> 0 within ${DURATION_S} s, losing nothing`, async () => {
    const demo = spawnService('demo/dist/demo.js', { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn' }, [
      '--scenario',
      'burst',
      '--duration',
      String(DURATION_S),
      '--report',
      out,
    ]);
    const { code } = await demo.exited;
    expect(code, demo.output()).toBe(0);
    report = JSON.parse(readFileSync(join(out, 'scaling-report.json'), 'utf8')) as ScalingReport;
    const s = report.summary;
    console.info(`scaling summary: ${JSON.stringify(s)}`);
    expect(s.max_replicas).toBeGreaterThanOrEqual(3);
    expect(s.time_to_first_scale_up_s).not.toBeNull();
    expect(s.time_back_to_zero_s).not.toBeNull();
    expect(s.events_published).toBeGreaterThan(20_000);
    expect(s.events_applied).toBeGreaterThanOrEqual(s.events_published);
    expect(s).toMatchObject({ lost: 0, duplicates_applied: 0, dead_letters: 0, state_matches_model: true });
    // The series tells the same story: idle at 0, out to >= 3, back to 0.
    const current = report.series.map((p) => p.current_replicas);
    expect(current[0]).toBe(0);
    expect(Math.max(...current)).toBeGreaterThanOrEqual(3);
    expect(current.at(-1)).toBe(0);
    expect(report.decisions[0]).toMatchObject({ by: 'keda', from: 0, to: 1 });
  }, 300_000);

  it('applies a single write at idle: one event waiting wakes a worker, twice from zero workers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvflow-idle-write-'));
    const demo = spawnService('demo/dist/demo.js', { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn' }, [
      '--scenario',
      'idle-write',
      '--report',
      dir,
    ]);
    const { code } = await demo.exited;
    expect(code, demo.output()).toBe(0);
    const s = (JSON.parse(readFileSync(join(dir, 'scaling-report.json'), 'utf8')) as ScalingReport).summary;
    console.info(`single writes at idle: ${JSON.stringify(s.single_writes)}`);
    expect(s.single_writes).toHaveLength(2);
    for (const w of s.single_writes) expect(w).toMatchObject({ status: 200, workers_before: 0 });
    expect(s).toMatchObject({
      lost: 0,
      duplicates_applied: 0,
      state_matches_model: true,
      events_published: 2,
    });
  }, 300_000);

  it('renders the HTML report in headless Chromium with both charts drawn', async () => {
    const shot = join(out, 'scaling-report.png');
    const { errors, charts } = await renderReport(join(out, 'scaling-report.html'), shot);
    expect(errors).toEqual([]);
    expect(charts).toHaveLength(2);
    for (const c of charts) {
      expect(c.inked).toBeGreaterThan(5_000); // axes, labels and lines really drawn
      for (const [, points] of c.datasets) expect(points).toBe(report.series.length);
    }
    expect(charts[1]?.datasets.map(([label]) => label)).toEqual(['desired workers', 'current workers']);
    const keep = join(ROOT, 'test-results');
    mkdirSync(keep, { recursive: true });
    copyFileSync(shot, join(keep, 'scaling-report.png'));
    copyFileSync(join(out, 'scaling-report.html'), join(keep, 'scaling-report.html'));
    copyFileSync(join(out, 'scaling-report.json'), join(keep, 'scaling-report.json'));
  }, 60_000);
});
