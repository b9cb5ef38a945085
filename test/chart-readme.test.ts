import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '@kvflow/stack';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * The chart's README (charts/kvflow/README.md) is what helm-docs generates from Chart.yaml, the `# --` comments of
 * values.yaml and README.md.gotmpl (scripts/chart-readme.mjs): a change to either without regenerating it fails here.
 */

const CHART = join(ROOT, 'charts/kvflow');
const readme = (args: string[]) =>
  spawnSync(process.execPath, [join(ROOT, 'scripts/chart-readme.mjs'), '--check', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  });

describe('chart README', () => {
  it('is up to date with Chart.yaml and values.yaml (node scripts/chart-readme.mjs regenerates it)', () => {
    const r = readme([]);
    expect(r.status, `${r.stderr}${r.stdout}`).toBe(0);
    expect(r.stdout).toContain('charts/kvflow/README.md is up to date');
  });

  it('has a described row for every value and the chart metadata', () => {
    const text = readFileSync(join(CHART, 'README.md'), 'utf8');
    const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as {
      description: string;
      home: string;
      sources: string[];
      kubeVersion: string;
    };
    expect(text).toContain(chart.description);
    expect(text).toContain(`<${chart.home}>`);
    for (const s of chart.sources) expect(text).toContain(`<${s}>`);
    expect(text).toContain(`Kubernetes: \`${chart.kubeVersion}\``);
    for (const key of ['image.repository', 'producer.service.port', 'producer.resources', 'tests.enabled'])
      expect(text).toMatch(
        new RegExp(`^\\| ${key.replace(/\./g, '\\.')} +\\| \\w+ +\\| .+ \\| [A-Za-z\`]`, 'm'),
      );
  });

  it('fails --check on a stale README, saying what to run (the check is live)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chart-readme-'));
    try {
      const stale = join(dir, 'README.md');
      writeFileSync(
        stale,
        readFileSync(join(CHART, 'README.md'), 'utf8').replace('| tests.enabled ', '| tests.on      '),
      );
      const r = readme([`--readme=${stale}`]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        /is stale .*first at line \d+: .*tests\.enabled.*run node scripts\/chart-readme\.mjs/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
