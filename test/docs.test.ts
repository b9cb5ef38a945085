import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '@kvflow/stack';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * The docs against the code, fastify-style: every error code of the API catalog, every environment variable a
 * kvflow process reads and every chart value is documented; the docs name no function or file that does not exist;
 * the README stays short and every doc readable in a terminal.
 */

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT })
  .toString()
  .split('\n')
  .filter((f) => f !== '' && existsSync(join(ROOT, f)));
const DOCS = ['README.md', ...tracked.filter((f) => /^docs\/[^/]+\.md$/.test(f))];
const SOURCES = tracked.filter((f) => /^[a-z-]+\/src\/.*\.ts$/.test(f));
const sourceText = SOURCES.map(read).join('\n');

/** A doc's lines outside fenced code blocks. */
function prose(text: string): string[] {
  let fenced = false;
  return text.split('\n').filter((line) => {
    if (line.trimStart().startsWith('```')) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

/** A doc's text without fenced code blocks (commands in them may name things of other tools). */
const proseText = (doc: string) => prose(read(doc)).join('\n');

describe('docs', () => {
  it('documents every error code of the API catalog with its status (docs/api.md)', () => {
    const catalog = read('producer/src/api/errors.ts');
    const body = catalog.slice(catalog.indexOf('ERROR_CATALOG = {'), catalog.indexOf('} as const;'));
    const codes = [...body.matchAll(/^\s{2}(\w+): \{\s*status: (\d{3})/gm)].map((m) => ({
      code: m[1] as string,
      status: m[2] as string,
    }));
    expect(codes.length).toBeGreaterThan(10);
    const lines = read('docs/api.md').split('\n');
    for (const { code, status } of codes)
      expect(
        lines.some((l) => l.includes(`\`${code}\``) && l.includes(status)),
        `docs/api.md: add a row for \`${code}\` with its status ${status}`,
      ).toBe(true);
  });

  it('documents every environment variable a kvflow process reads (docs/operations.md)', () => {
    const names = new Set(
      [...sourceText.matchAll(/^\s+([A-Z][A-Z0-9_]+): env\.\w+\(/gm)].map((m) => m[1] as string),
    );
    expect(names.size).toBeGreaterThan(40);
    const ops = read('docs/operations.md');
    const missing = [...names].filter((n) => !ops.includes(`\`${n}\``)).sort();
    expect(missing, 'docs/operations.md: document these variables in its Configuration tables').toEqual([]);
  });

  it('documents every chart value (docs/kubernetes.md)', () => {
    const leaves: string[] = [];
    const walk = (node: unknown, path: string) => {
      // A map documented as a whole: free-form maps (resources, annotations, …) and empty ones.
      if (node && typeof node === 'object' && !Array.isArray(node) && Object.keys(node).length > 0)
        for (const [k, v] of Object.entries(node)) walk(v, path ? `${path}.${k}` : k);
      else leaves.push(path);
    };
    walk(parse(read('charts/kvflow/values.yaml')), '');
    expect(leaves.length).toBeGreaterThan(60);
    const doc = read('docs/kubernetes.md');
    // A value is documented by its own row or by the row of a map it belongs to (`consumer.resources`).
    const documented = (path: string) =>
      path
        .split('.')
        .some((_, i, parts) => doc.includes(`\`${parts.slice(0, i + 1).join('.')}\``) && i > 0) ||
      doc.includes(`\`${path}\``);
    const missing = leaves.filter((p) => !documented(p));
    expect(missing, 'docs/kubernetes.md: add these values to the values reference').toEqual([]);
  });

  // Calls the docs show that are not kvflow's: PromQL/Math (ceil), nats.js (term), prom-client (inc).
  const NOT_KVFLOW = new Set(['ceil', 'term', 'inc']);

  it('names only functions that exist', () => {
    const defined = new Set(
      [
        ...sourceText.matchAll(
          /(?:function\*?\s+|const\s+|class\s+|^\s+(?:async\s+|static\s+|private\s+|get\s+)*)([A-Za-z_$][\w$]*)\s*[(<=:]/gm,
        ),
      ].map((m) => m[1] as string),
    );
    const problems: string[] = [];
    for (const doc of DOCS)
      for (const m of proseText(doc).matchAll(/`([a-z][A-Za-z0-9]*)\((?:[^`]*)\)`/g)) {
        const name = m[1] as string;
        if (!defined.has(name) && !NOT_KVFLOW.has(name))
          problems.push(`${doc}: \`${m[0]}\` names no function in the sources`);
      }
    expect(problems).toEqual([]);
  });

  it('names only files that exist', () => {
    // Paths made at run time or by the user (the plain and the sealed credentials), not tracked.
    const generated =
      /^(test-results|\.kvflow|bench\/results|out)\/|^secrets\/kvflow-credentials\.(plain|sealed)\.yaml$/;
    const problems: string[] = [];
    for (const doc of DOCS) {
      const text = proseText(doc);
      const base = doc.startsWith('docs/') ? 'docs' : '.';
      for (const m of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        const target = m[1] as string;
        if (/^[a-z]+:/.test(target)) continue;
        const path = join(base, target);
        if (!generated.test(path) && !existsSync(join(ROOT, path)))
          problems.push(`${doc}: link to ${target}`);
      }
      for (const m of text.matchAll(/`((?:[\w.-]+\/)+[\w.-]+\.(?:ts|mjs|sh|yaml|yml|json|md|tpl))`/g)) {
        const path = m[1] as string;
        if (generated.test(path) || path.includes('*')) continue;
        const top = path.split('/')[0] as string;
        if (!existsSync(join(ROOT, top))) continue; // not a path of this repository (e.g. a chart's templates/…)
        if (!existsSync(join(ROOT, path)) && !tracked.some((f) => f.endsWith(`/${path}`)))
          problems.push(`${doc}: \`${path}\` does not exist`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('keeps the README short and every line readable in a terminal', () => {
    expect(read('README.md').split('\n').length).toBeLessThanOrEqual(200);
    const long: string[] = [];
    for (const doc of DOCS)
      prose(read(doc)).forEach((line, i) => {
        if (line.length > 120 && !line.trimStart().startsWith('|')) long.push(`${doc}: prose line ${i + 1}`);
      });
    expect(long).toEqual([]);
  });
});
