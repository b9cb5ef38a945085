import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROFILE_KINDS, RATE_FIELD_NAMES, RATE_FIELDS } from '@kvflow/common';
import { producerSettings } from '@kvflow/producer';
import { ROOT } from '@kvflow/stack';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

/**
 * The rate rules live once (common/src/rate-profile.ts). The chart cannot import them, so this checks that the
 * chart's values schema says the same, and that what the chart renders into the rate ConfigMap is exactly what
 * the producer accepts at the edges.
 */

const CHART = join(ROOT, 'charts/kvflow');
const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8'));
const rateSchema = schema.properties.producer.properties.rate.properties as Record<
  string,
  { minimum?: number; maximum?: number; type?: string; enum?: string[] }
>;

function renderRateConfig(set: string[]): { code: number; out: string; data?: Record<string, string> } {
  const args = [
    'template',
    'kvflow',
    CHART,
    '--kube-version',
    '1.34.0',
    '--show-only',
    'templates/configmap.yaml',
  ];
  // --set-json: plain --set turns 0.1 into a string.
  for (const s of set) args.push('--set-json', s);
  const r = spawnSync('helm', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`helm not found (run bash scripts/install-k8s-tools.sh): ${r.error.message}`);
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) return { code: r.status ?? 1, out };
  const rate = parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as { metadata: { name: string }; data: Record<string, string> })
    .find((o) => o?.metadata.name.endsWith('-producer-rate'));
  return { code: 0, out, data: rate?.data };
}

describe('rate rules: one table, and the chart agrees with it', () => {
  it('values.schema.json has the same bounds for every rate setting, and the same profiles', () => {
    for (const f of RATE_FIELD_NAMES) {
      const r = RATE_FIELDS[f];
      expect(rateSchema[r.chartKey], r.chartKey).toEqual({ type: 'number', minimum: r.min, maximum: r.max });
    }
    expect(rateSchema.profile?.enum).toEqual([...PROFILE_KINDS]);
    expect(Object.keys(rateSchema).sort()).toEqual(
      [...RATE_FIELD_NAMES.map((f) => RATE_FIELDS[f].chartKey), 'profile'].sort(),
    );
  });

  it('renders each setting at its limits into the variable the producer reads, and the producer accepts it', () => {
    for (const edge of ['min', 'max'] as const) {
      const set = RATE_FIELD_NAMES.map(
        (f) => `producer.rate.${RATE_FIELDS[f].chartKey}=${RATE_FIELDS[f][edge]}`,
      );
      const { code, out, data } = renderRateConfig(set);
      expect(code, out).toBe(0);
      const config = producerSettings.parse({ ...data, PROFILE: 'burst' });
      for (const f of RATE_FIELD_NAMES) {
        expect(Number(data?.[RATE_FIELDS[f].env]), `${f} at ${edge}`).toBe(RATE_FIELDS[f][edge]);
      }
      expect(config.generator.profile).toMatchObject({
        kind: 'burst',
        rate: RATE_FIELDS.rate[edge],
        burstRate: RATE_FIELDS.burstRate[edge],
        burstS: RATE_FIELDS.burstS[edge],
        periodS: RATE_FIELDS.periodS[edge],
      });
    }
  });

  it('refuses, at install time, a value the producer would refuse at start-up', () => {
    for (const f of RATE_FIELD_NAMES) {
      const r = RATE_FIELDS[f];
      const tooHigh = r.max * 2;
      expect(() => producerSettings.parse({ [r.env]: String(tooHigh) }), f).toThrow(r.env);
      const { code, out } = renderRateConfig([`producer.rate.${r.chartKey}=${tooHigh}`]);
      expect(code, `${r.chartKey}=${tooHigh}`).not.toBe(0);
      expect(out).toContain(r.chartKey);
    }
  });
});
