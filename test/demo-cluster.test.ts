import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnService } from '@kvflow/testkit';
import { describe, expect, it } from 'vitest';
import type { ScalingReport } from '../demo/src/report/scaling-report.js';

const DURATION_S = 45;

describe('one-machine scaling demo on a NATS cluster and a Redis Cluster', () => {
  it(`npm run demo -- --cluster: the spike scenario goes 0 -> N -> 0 within ${DURATION_S} s, state = model`, async () => {
    const out = mkdtempSync(join(tmpdir(), 'kvflow-report-cluster-'));
    const demo = spawnService('demo/dist/demo.js', { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn' }, [
      '--cluster',
      '--scenario',
      'spike',
      '--duration',
      String(DURATION_S),
      '--report',
      out,
    ]);
    const { code } = await demo.exited;
    const output = demo.output();
    expect(code, output).toBe(0);
    expect(output).toMatch(/started a 3-node NATS cluster .* and a Redis Cluster of 3 masters \+ 3 replicas/);
    // The local scaler found the consumer leader through /varz, as KEDA does, and read the lag there.
    expect(output).toMatch(/lag read from the consumer leader n[123] \(http:\/\/127\.0\.0\.1:\d+\/jsz\?/);
    const report = JSON.parse(readFileSync(join(out, 'scaling-report.json'), 'utf8')) as ScalingReport;
    const s = report.summary;
    console.info(`scaling summary (cluster): ${JSON.stringify(s)}`);
    expect(s.max_replicas).toBeGreaterThanOrEqual(2);
    expect(s.time_to_first_scale_up_s).not.toBeNull();
    expect(s.time_back_to_zero_s).not.toBeNull();
    expect(s.events_published).toBeGreaterThan(3_000);
    expect(s.events_applied).toBeGreaterThanOrEqual(s.events_published);
    expect(s).toMatchObject({ lost: 0, duplicates_applied: 0, dead_letters: 0, state_matches_model: true });
    const current = report.series.map((p) => p.current_replicas);
    expect(current[0]).toBe(0);
    expect(current.at(-1)).toBe(0);
    expect(report.decisions[0]).toMatchObject({ by: 'keda', from: 0, to: 1 });
  }, 240_000); // the run itself is bounded by --duration; cluster start-up is slow while other suites load the machine
});
