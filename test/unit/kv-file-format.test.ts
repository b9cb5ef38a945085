import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnService } from '@kvflow/testkit';
import { describe, expect, it } from 'vitest';
import { formatImportSummary } from '../../cli/src/commands/import.js';
import { parseKvLine, scanKvFile } from '../../cli/src/kv-file.js';

/** The import file format as README's "Operator CLI" section defines it: lines, separators, BOM, errors. */

async function* chunks(...parts: Array<string | number[]>): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield typeof p === 'string' ? Buffer.from(p, 'utf8') : Uint8Array.from(p);
}

const scan = (...parts: Array<string | number[]>) => scanKvFile(chunks(...parts), 1024);

describe('import file format', () => {
  it('ends lines only at \\n and \\r\\n: a lone \\r stays in the value', async () => {
    const s = await scan('a 1\rstill a\nb 2\r\nc x\ry\r\n');
    expect(s.lines).toBe(3);
    expect([...s.latest]).toEqual([
      ['a', '1\rstill a'],
      ['b', '2'],
      ['c', 'x\ry'],
    ]);
    expect(s.malformed).toBe(0);
  });

  it('handles a \\r\\n and a multi-byte character split across chunks', async () => {
    const euro = [...Buffer.from('€')];
    const s = await scan('k1 v\r', '\nk2 ', euro.slice(0, 1), euro.slice(1), '\nk3 last');
    expect([...s.latest]).toEqual([
      ['k1', 'v'],
      ['k2', '€'],
      ['k3', 'last'],
    ]);
    expect(s.lines).toBe(3);
  });

  it('ignores a UTF-8 BOM at the start of the file, and only there', async () => {
    const s = await scan('\ufeffk v\n\ufeffk2 w\n');
    expect([...s.latest]).toEqual([['k', 'v']]);
    expect(s.errors).toEqual([{ line: 2, reason: 'key contains whitespace or a control character' }]);
  });

  it('gives "key" and "key " (an editor stripped the space or not) the same outcome: malformed', async () => {
    const s = await scan('k\nk \nk\t\nk  \n');
    expect(s.errors.map((e) => e.line)).toEqual([1, 2, 3]);
    for (const e of s.errors) expect(e.reason).toMatch(/^no value/);
    expect([...s.latest]).toEqual([['k', ' ']]);
    expect(parseKvLine('k', 1024)).toEqual(parseKvLine('k ', 1024));
  });

  it('reports invalid UTF-8 as a malformed line instead of storing replacement characters', async () => {
    const s = await scan('ok v\nbad ', [0xff, 0xfe], '\nfine w');
    expect(s.errors).toEqual([{ line: 2, reason: 'line is not valid UTF-8' }]);
    expect([...s.latest.keys()]).toEqual(['ok', 'fine']);
  });

  it('counts every malformed line, lists the first ones by number and says how many more', async () => {
    const lines = Array.from({ length: 250 }, (_, i) => (i % 2 === 0 ? `bad${i}` : `good${i} v`));
    const s = await scanKvFile(chunks(lines.join('\n')), 1024, { maxErrors: 100 });
    expect(s.malformed).toBe(125);
    expect(s.errors).toHaveLength(100);
    expect(s.errors[0]).toEqual({ line: 1, reason: expect.stringMatching(/^no value/) });
    expect(s.errors[99]?.line).toBe(199);
    const text = formatImportSummary({ file: 'f', published: 0, failed: 0, seconds: 0, ...s }, true);
    expect(text).toContain('line 199: no value');
    expect(text).toContain('… and 25 more malformed lines');
  });

  it('is what `kvflow import --dry-run --json` reads', async () => {
    const file = join(tmpdir(), `kvflow-format-${process.pid}.txt`);
    writeFileSync(
      file,
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('bom 1\nlone 2\r3\nempty \nk v\r\n')]),
    );
    const svc = spawnService('cli/dist/main.js', { PATH: process.env.PATH ?? '' }, [
      'import',
      file,
      '--dry-run',
      '--json',
    ]);
    const { code } = await svc.exited;
    const summary = JSON.parse(svc.output().trim().split('\n').at(-1) ?? '{}');
    expect(summary).toMatchObject({ lines: 4, pairs: 3, malformed: 1 });
    expect(summary.errors).toEqual([{ line: 3, reason: expect.stringMatching(/^no value/) }]);
    expect(code).toBe(4);
  });
});
