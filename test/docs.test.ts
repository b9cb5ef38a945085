import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { posix, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * The docs against the code, fastify-style (issue 16): every error code of the API catalog, every environment
 * variable a kvflow process reads and every chart value is documented where a reader looks for it; the docs name
 * no function or file that does not exist; the README stays short and every doc readable in a terminal.
 *
 * Reads files only: no build, no servers. The sources are found by pattern (`<package>/src/**∕*.ts`), so moving a
 * file inside a package changes nothing here.
 */

const ROOT = resolve(import.meta.dirname, '..');
const read = (path: string) => readFileSync(resolve(ROOT, path), 'utf8');

/** The repository's files: tracked and untracked-but-not-ignored, as they are in the working tree now. */
const FILES = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
  cwd: ROOT,
  encoding: 'utf8',
})
  .split('\0')
  .filter((f) => f !== '' && existsSync(resolve(ROOT, f)));
const FILE_SET = new Set(FILES);
const DIRS = new Set(
  FILES.flatMap((f) =>
    f
      .split('/')
      .slice(0, -1)
      .map((_, i, p) => p.slice(0, i + 1).join('/')),
  ),
);
const TOP_DIRS = new Set([...DIRS].filter((d) => !d.includes('/')));

const SOURCES = FILES.filter(
  (f) => /^[^/]+\/src\/.+\.ts$/.test(f) && !/(^|\/)(node_modules|dist)\//.test(f) && !f.endsWith('.d.ts'),
);
const TEST_SOURCES = FILES.filter((f) => /^test\/.+\.ts$/.test(f));
const DOCS = ['README.md', ...FILES.filter((f) => /^docs\/[^/]+\.md$/.test(f)).sort()];

// ---------------------------------------------------------------------------------------------------------------
// Markdown, as far as these checks need it.

interface Line {
  /** 1-based line number in the file. */
  n: number;
  text: string;
  /** Inside a fenced code block (the fence lines included). */
  fenced: boolean;
}

function linesOf(doc: string): Line[] {
  let fence: string | undefined;
  return read(doc)
    .split('\n')
    .map((text, i) => {
      const marker = /^\s*(`{3,}|~{3,})/.exec(text)?.[1];
      if (fence === undefined && marker) {
        fence = marker[0] as string;
        return { n: i + 1, text, fenced: true };
      }
      if (fence !== undefined) {
        if (marker?.startsWith(fence)) fence = undefined;
        return { n: i + 1, text, fenced: true };
      }
      return { n: i + 1, text, fenced: false };
    });
}

const isTableRow = (text: string) => text.trimStart().startsWith('|');

/** A doc's text outside fenced blocks, fenced lines blanked so that offsets still give line numbers. */
function proseOf(doc: string): string {
  return linesOf(doc)
    .map((l) => (l.fenced ? '' : l.text))
    .join('\n');
}

function lineAt(text: string, index: number): number {
  let n = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

/** Code spans (CommonMark: a run of backticks closed by a run of the same length), with their line numbers. */
function codeSpans(doc: string): Array<{ n: number; code: string }> {
  const text = proseOf(doc);
  const spans: Array<{ n: number; code: string }> = [];
  const open = /`+/g;
  for (let m = open.exec(text); m; m = open.exec(text)) {
    const ticks = m[0];
    const start = m.index + ticks.length;
    const close = new RegExp(`(?<!\`)${ticks}(?!\`)`, 'g');
    close.lastIndex = start;
    const c = close.exec(text);
    if (!c) continue;
    let code = text.slice(start, c.index);
    if (!code.includes('\n\n')) {
      code = code.replace(/\n/g, ' ');
      if (code.length > 2 && code.startsWith(' ') && code.endsWith(' ')) code = code.slice(1, -1);
      spans.push({ n: lineAt(text, m.index), code });
    }
    open.lastIndex = c.index + ticks.length;
  }
  return spans;
}

/** Inline links and images: `[text](target)`, `![alt](target)`. */
function links(doc: string): Array<{ n: number; target: string }> {
  const text = proseOf(doc);
  return [...text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => ({
    n: lineAt(text, m.index),
    target: m[1] as string,
  }));
}

/** The cells of a table row, code spans kept whole (`a \| b` is one cell). */
function cells(row: string): string[] {
  return row
    .trim()
    .replace(/^\||\|$/g, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

/** GitHub's anchor of each heading of a doc. */
function anchors(doc: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const l of linesOf(doc)) {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(l.text);
    if (l.fenced || !h) continue;
    const slug = (h[1] as string)
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const k = seen.get(slug) ?? 0;
    seen.set(slug, k + 1);
    out.add(k === 0 ? slug : `${slug}-${k}`);
  }
  return out;
}

const codePoints = (s: string) => [...s].length;

// ---------------------------------------------------------------------------------------------------------------
// What the docs must cover, read from the code.

/** ERROR_CATALOG of the producer's API, read from its source text (importing it would need a build). */
function errorCatalog(): { file: string; codes: Array<{ code: string; status: string }> } {
  const files = SOURCES.filter((f) => /export const ERROR_CATALOG\b/.test(read(f)));
  expect(files, 'exactly one source declares ERROR_CATALOG').toHaveLength(1);
  const file = files[0] as string;
  const text = read(file);
  const start = text.indexOf('{', text.indexOf('export const ERROR_CATALOG'));
  const body = text.slice(start, text.indexOf('} as const', start));
  const codes = [...body.matchAll(/^ {2}(\w+):\s*\{\s*status:\s*(\d{3})\b/gm)].map((m) => ({
    code: m[1] as string,
    status: m[2] as string,
  }));
  // Every top-level key of the literal must have been read with its status.
  expect(
    codes.map((c) => c.code),
    `${file}: a catalog entry without "status: N" first?`,
  ).toEqual([...body.matchAll(/^ {2}(\w+):/gm)].map((m) => m[1]));
  return { file, codes };
}

/**
 * The environment variables of the settings engine (`common/src/settings/env.ts`): each is a key of a settings
 * shape whose value is one of its field helpers, `NAME: env.int(…)`, or a package's own wrapper of them named
 * `…Env(…)` (the producer's `rateEnv('rate')`).
 */
function declaredEnv(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of SOURCES)
    for (const m of read(file).matchAll(
      /(?<![\w.$])([A-Z][A-Z0-9_]*)\s*:\s*(?:env\.[a-zA-Z]+|[a-z]\w*Env)\(/g,
    )) {
      const name = m[1] as string;
      found.set(name, [...(found.get(name) ?? []), file]);
    }
  return found;
}

/**
 * Maps of values.yaml documented as a whole: their keys are free (Kubernetes objects passed through as they are),
 * so the values reference has one row for the map, not one per entry.
 */
const VALUE_MAPS: Record<string, string> = {
  'producer.resources': 'a Kubernetes ResourceRequirements object, rendered as is',
  'consumer.resources': 'a Kubernetes ResourceRequirements object, rendered as is',
  'metrics.podMonitor.labels': 'free labels the Prometheus Operator selects PodMonitors by',
};

/** Every value path of the chart: leaves, lists (documented as one value) and the maps above. */
function chartValues(): string[] {
  const values = parse(read('charts/kvflow/values.yaml')) as Record<string, unknown>;
  const paths: string[] = [];
  const walk = (node: unknown, path: string) => {
    const isMap = node !== null && typeof node === 'object' && !Array.isArray(node);
    if (path in VALUE_MAPS) {
      expect(isMap, `values.yaml: ${path} is exempted as a map but is not one`).toBe(true);
      paths.push(path);
    } else if (isMap && Object.keys(node).length > 0)
      for (const [k, v] of Object.entries(node)) walk(v, path ? `${path}.${k}` : k);
    else paths.push(path);
  };
  walk(values, '');
  for (const path of Object.keys(VALUE_MAPS))
    expect(paths, `VALUE_MAPS names ${path}, which values.yaml no longer has`).toContain(path);
  return paths;
}

/** Names the TypeScript sources define: functions, consts, classes, methods (with a body or in an interface). */
function definedNames(): Set<string> {
  const names = new Set<string>();
  const modifiers =
    '(?:(?:export|default|public|private|protected|static|async|override|readonly|get|set)\\s+)*';
  const patterns = [
    /\bfunction\s*\*?\s*([A-Za-z_$][\w$]*)/g,
    /\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)/g,
    /\bclass\s+([A-Za-z_$][\w$]*)/g,
    new RegExp(`^[ \\t]+${modifiers}\\*?([A-Za-z_$][\\w$]*)\\??\\s*(?:<[^>\\n]*>)?\\(`, 'gm'),
  ];
  for (const file of [...SOURCES, ...TEST_SOURCES]) {
    const text = read(file);
    for (const re of patterns) for (const m of text.matchAll(re)) names.add(m[1] as string);
  }
  return names;
}

/** Calls the docs show that are not kvflow's own, with whose they are. */
const FOREIGN_CALLS: Record<string, string> = {
  consume: 'nats.js: the consumer API the worker does not use (architecture.md says why)',
  fetch: 'nats.js: the bounded pull the worker uses',
  term: "nats.js: a message's terminal acknowledgement",
  rate: 'PromQL',
  inc: 'prom-client',
  observe: 'prom-client',
};

/** Paths a doc may name that are made at run time or by the user, so the tree does not have them. */
const RUNTIME_PATHS: Array<{ re: RegExp; why: string }> = [
  { re: /^\.kvflow(\/|$)/, why: 'made by bootstrap, the demo and the local node (git-ignored)' },
  { re: /^test-results(\/|$)/, why: 'written by the tests (git-ignored)' },
  { re: /^out(\/|$)/, why: 'the folder the examples pass to --report' },
  { re: /^bench\/results\//, why: 'written by npm run bench' },
  { re: /^secrets\/kvflow-credentials\.plain\.yaml$/, why: 'you make it from the example (git-ignored)' },
  { re: /^secrets\/kvflow-credentials\.sealed\.yaml$/, why: 'task seal writes it, you commit it' },
  { re: /^[^/]+\/dist(\/|$)/, why: 'compiled output of a package (tsc -b)' },
];

const FILE_EXTENSION = /\.(ts|mts|js|mjs|cjs|sh|ya?ml|json|md|c|gotmpl|tpl|html|png|svg|txt)$/;

/** Does a path (relative to the repository root; `*`, `<name>` and `…` as wildcards) name something in the tree? */
function inTree(path: string): boolean {
  const p = path.replace(/\/$/, '');
  if (FILE_SET.has(p) || DIRS.has(p)) return true;
  if (!/[*<…]/.test(p)) return false;
  const re = new RegExp(
    `^${p
      .split(/(\*|<[^>]*>|…)/)
      .map((part, i) =>
        i % 2 === 1 ? (part === '…' ? '.*' : '[^/]+') : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'),
      )
      .join('')}$`,
  );
  return FILES.some((f) => re.test(f)) || [...DIRS].some((d) => re.test(d));
}

const isRuntimePath = (path: string) => RUNTIME_PATHS.some((r) => r.re.test(path));

/** A code span that looks like a path of this repository. */
function looksLikeRepoPath(code: string): boolean {
  if (/\s/.test(code) || /^[/@~$]/.test(code) || code.includes('://') || !code.includes('/')) return false;
  const top = code.split('/')[0] as string;
  return FILE_EXTENSION.test(code.replace(/\/$/, '')) || TOP_DIRS.has(top) || isRuntimePath(code);
}

// ---------------------------------------------------------------------------------------------------------------

describe('docs', () => {
  it('documents every error code of the API catalog with its HTTP status (docs/api.md)', () => {
    const { file, codes } = errorCatalog();
    expect(codes.length).toBeGreaterThanOrEqual(10);
    const lines = linesOf('docs/api.md').filter((l) => !l.fenced);
    const missing = codes
      .filter(({ code, status }) =>
        lines.every(
          (l) => !l.text.includes(`\`${code}\``) || !new RegExp(`(^|\\D)${status}(\\D|$)`).test(l.text),
        ),
      )
      .map(({ code, status }) => `\`${code}\` (${status}): add the row "| ${status} | \`${code}\` | when |"`);
    expect(missing, `docs/api.md: error codes of ${file} missing from the error table`).toEqual([]);
  });

  it('documents every environment variable the services read (docs/operations.md)', () => {
    const declared = declaredEnv();
    expect(declared.size).toBeGreaterThan(20);
    const spans = new Set(codeSpans('docs/operations.md').map((s) => s.code));
    const missing = [...declared]
      .filter(([name]) => !spans.has(name))
      .map(([name, files]) => `${name} (declared in ${[...new Set(files)].join(', ')})`)
      .sort();
    expect(
      missing,
      'docs/operations.md: add a row "| `NAME` | default | meaning |" to its Configuration',
    ).toEqual([]);
    // The other way round: a variable row of the configuration tables names a variable that is still read.
    const stale = linesOf('docs/operations.md')
      .filter((l) => !l.fenced && isTableRow(l.text))
      .map((l) => ({ n: l.n, first: cells(l.text)[0] ?? '' }))
      .filter(({ first }) => /^`[A-Z][A-Z0-9_]*`$/.test(first) && !declared.has(first.slice(1, -1)))
      .map(
        ({ n, first }) =>
          `docs/operations.md:${n}: ${first} is read by no settings declaration: remove the row`,
      );
    expect(stale).toEqual([]);
  });

  it('documents every chart value (docs/kubernetes.md, values reference)', () => {
    const paths = chartValues();
    expect(paths.length).toBeGreaterThan(60);
    const lines = linesOf('docs/kubernetes.md');
    const start = lines.findIndex((l) => !l.fenced && /^##\s+Values reference\s*$/.test(l.text));
    expect(start, 'docs/kubernetes.md: a "## Values reference" section').toBeGreaterThanOrEqual(0);
    const end = lines.findIndex((l, i) => i > start && !l.fenced && /^##\s/.test(l.text));
    const rows = lines
      .slice(start, end < 0 ? undefined : end)
      .filter((l) => !l.fenced && isTableRow(l.text) && !/^\|[\s:-]+\|/.test(l.text.trim()))
      .slice(1) // the header
      .map((l) => ({ n: l.n, first: cells(l.text)[0] ?? '' }));
    const documented = new Set(rows.map((r) => r.first.replace(/^`|`$/g, '')));
    const missing = paths
      .filter((p) => !documented.has(p))
      .map((p) => `${p}: add "| \`${p}\` | default | meaning |" (from the comment above it in values.yaml)`);
    expect(missing, 'docs/kubernetes.md: chart values missing from the values reference').toEqual([]);
    const known = new Set(paths);
    const stale = rows
      .filter((r) => !known.has(r.first.replace(/^`|`$/g, '')))
      .map((r) => `docs/kubernetes.md:${r.n}: ${r.first} is not a value of charts/kvflow/values.yaml`);
    expect(stale).toEqual([]);
  });

  it('names only functions the sources define', () => {
    const defined = definedNames();
    expect(defined.size).toBeGreaterThan(200);
    const problems: string[] = [];
    let checked = 0;
    for (const doc of DOCS)
      for (const { n, code } of codeSpans(doc)) {
        const m = /^(?:[A-Za-z_$][\w$]*\.)*([A-Za-z_$][\w$]*)\(\)?$/.exec(code);
        if (!m) continue;
        checked++;
        const name = m[1] as string;
        if (!defined.has(name) && !(name in FOREIGN_CALLS))
          problems.push(
            `${doc}:${n}: \`${code}\` is defined nowhere in */src or test/: rename it to the code's name`,
          );
      }
    expect(checked).toBeGreaterThan(5);
    expect(problems).toEqual([]);
  });

  it('names only files that exist', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const doc of DOCS) {
      for (const { n, code } of codeSpans(doc)) {
        if (!looksLikeRepoPath(code) || isRuntimePath(code)) continue;
        checked++;
        if (!inTree(code))
          problems.push(`${doc}:${n}: \`${code}\` is not in the tree (git ls-files): write where it is now`);
      }
      for (const { n, target } of links(doc)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        const [file, anchor] = target.split('#') as [string, string | undefined];
        const path = file === '' ? doc : posix.normalize(posix.join(posix.dirname(doc), file));
        checked++;
        if (path.startsWith('../') || (!isRuntimePath(path) && !inTree(path))) {
          problems.push(
            `${doc}:${n}: link to ${target}: ${path} is not in the tree (links are relative to the doc)`,
          );
          continue;
        }
        if (anchor !== undefined && path.endsWith('.md') && !anchors(path).has(anchor))
          problems.push(`${doc}:${n}: link to ${target}: ${path} has no heading with the anchor #${anchor}`);
      }
    }
    expect(checked).toBeGreaterThan(50);
    expect(problems).toEqual([]);
  });

  it('describes every test file (docs/testing.md)', () => {
    const linked = new Set(
      links('docs/testing.md').map((l) =>
        posix.normalize(posix.join('docs', l.target.split('#')[0] as string)),
      ),
    );
    const missing = FILES.filter((f) => /^test\/.+\.test\.ts$/.test(f) && !linked.has(f));
    expect(
      missing,
      'docs/testing.md: add a line "- [`name.test.ts`](../test/…): what it checks" for each',
    ).toEqual([]);
  });

  it('keeps the README short, every doc on its map and every line within 120 columns', () => {
    const readme = read('README.md').replace(/\n$/, '').split('\n');
    expect(readme.length, 'README.md: at most 200 lines; move details into docs/').toBeLessThanOrEqual(200);
    const map = new Set(links('README.md').map((l) => l.target.split('#')[0]));
    expect(
      DOCS.filter((d) => d !== 'README.md' && !map.has(d)),
      'README.md: one line per doc',
    ).toEqual([]);
    const problems: string[] = [];
    for (const doc of DOCS) {
      const lines = linesOf(doc);
      for (const l of lines)
        if (!l.fenced && !isTableRow(l.text) && codePoints(l.text) > 120)
          problems.push(`${doc}:${l.n}: ${codePoints(l.text)} characters; rewrap the paragraph to 120`);
      if (doc === 'README.md') continue;
      // A one-line title, then a paragraph of one sentence saying what the doc is for.
      const [title, blank] = lines;
      const purpose = lines.slice(
        2,
        lines.findIndex((l, i) => i > 2 && l.text.trim() === ''),
      );
      const sentence = purpose.map((l) => l.text.trim()).join(' ');
      if (!/^# \S/.test(title?.text ?? '') || blank?.text.trim() !== '' || !/^[^#|`-].*\.$/.test(sentence))
        problems.push(
          `${doc}: start with "# Title", a blank line, and one sentence saying what the doc is for`,
        );
    }
    expect(problems).toEqual([]);
  });
});
