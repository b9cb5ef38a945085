#!/usr/bin/env node
// Generates charts/kvflow/README.md with helm-docs (at the version scripts/install-k8s-tools.sh pins) from
// Chart.yaml, the `# --` comments of values.yaml and charts/kvflow/README.md.gotmpl, then formats it with biome like
// every other Markdown file here (so `npx biome check` leaves it alone).
//   node scripts/chart-readme.mjs           write the README
//   node scripts/chart-readme.mjs --check   exit 1, saying what to run, if the checked-in README is stale
//   --readme=PATH                           write or check PATH instead (the test checks a stale copy)
// Either way it refuses (exit 1) a value without a description: every row of the values table must say something.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CHART = join(ROOT, 'charts/kvflow');
const README_ARG = process.argv.find((a) => a.startsWith('--readme='));
const README = README_ARG ? resolve(README_ARG.slice('--readme='.length)) : join(CHART, 'README.md');
const rel = (p) => relative(ROOT, p);

function fail(message) {
  console.error(`chart-readme: ${message}`);
  process.exit(1);
}

/** The helm-docs version scripts/install-k8s-tools.sh installs (the README's footer names it). */
function pinnedVersion() {
  const script = readFileSync(join(ROOT, 'scripts/install-k8s-tools.sh'), 'utf8');
  const m = /^HELM_DOCS_VERSION=v(\S+)$/m.exec(script);
  if (!m) fail('no HELM_DOCS_VERSION in scripts/install-k8s-tools.sh');
  return m[1];
}

/** helm-docs' README, as it renders it (--dry-run: to stdout, nothing written). */
function helmDocs() {
  const r = spawnSync(
    'helm-docs',
    [
      '--chart-search-root',
      '.',
      '--template-files',
      'README.md.gotmpl',
      '--sort-values-order',
      'file',
      '--log-level',
      'warning',
      '--dry-run',
    ],
    { cwd: CHART, encoding: 'utf8' },
  );
  if (r.error)
    fail(`helm-docs not found (${r.error.message}): run bash scripts/install-k8s-tools.sh, which builds it`);
  if (r.status !== 0) fail(`helm-docs failed (exit ${r.status}):\n${r.stderr}${r.stdout}`);
  const pinned = pinnedVersion();
  const used = /helm-docs v(\S+?)\]/.exec(r.stdout)?.[1];
  if (used !== pinned)
    fail(
      `helm-docs ${used ? `v${used}` : 'without a linked version'} found, the README is generated with ` +
        `v${pinned}: run bash scripts/install-k8s-tools.sh`,
    );
  return r.stdout;
}

/** Keys of the values table whose description is empty (no `# --` comment above them in values.yaml). */
function undocumented(markdown) {
  const rows = markdown
    .split('\n')
    .filter((l) => /^\|[^|]+\|[^|]+\|/.test(l) && !/^\|\s*(Key|-+)\s*\|/.test(l));
  return rows
    .map((l) => l.split('|').map((c) => c.trim()))
    .filter((cells) => cells.length >= 6 && cells[4] === '')
    .map((cells) => cells[1]);
}

/** Formatted as `npx biome format` would format the file. */
function biomeFormat(markdown) {
  const biome = join(ROOT, 'node_modules/.bin/biome');
  if (!existsSync(biome)) fail(`${rel(biome)} not found: run npm install`);
  const r = spawnSync(biome, ['format', `--stdin-file-path=${join(CHART, 'README.md')}`], {
    cwd: ROOT,
    input: markdown,
    encoding: 'utf8',
  });
  if (r.status !== 0 || r.stdout === '') fail(`biome could not format the README:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

const check = process.argv.includes('--check');
const raw = helmDocs();
const missing = undocumented(raw);
if (missing.length > 0)
  fail(
    `values without a description: ${missing.join(', ')}\n` +
      `  add a "# -- <what it does>" comment above each in ${rel(join(CHART, 'values.yaml'))}`,
  );
const generated = biomeFormat(raw);

if (!check) {
  writeFileSync(README, generated);
  console.log(`chart-readme: wrote ${rel(README)}`);
} else {
  const current = existsSync(README) ? readFileSync(README, 'utf8') : '';
  if (current !== generated) {
    const a = current.split('\n');
    const b = generated.split('\n');
    const line = b.findIndex((l, i) => l !== a[i]);
    fail(
      `${rel(README)} is stale (it differs from what Chart.yaml, values.yaml and README.md.gotmpl generate` +
        `${line >= 0 ? `, first at line ${line + 1}: ${JSON.stringify(b[line])}` : ''}): ` +
        'run node scripts/chart-readme.mjs and commit the result',
    );
  }
  console.log(`chart-readme: ${rel(README)} is up to date`);
}
