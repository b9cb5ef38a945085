import { keyProblem, valueProblem } from '@kvflow/common';

/**
 * The bulk-import format: one `<key> <value>` pair per line. The key has no whitespace; everything after the
 * first space or tab is the value (it may contain spaces). Blank lines are ignored. Pure, so it is tested fast.
 */
export type ParsedLine =
  | { kind: 'pair'; key: string; value: string }
  | { kind: 'blank' }
  | { kind: 'malformed'; reason: string };

export function parseKvLine(raw: string, valueMaxBytes: number): ParsedLine {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (line.trim() === '') return { kind: 'blank' };
  const sep = line.search(/[ \t]/);
  if (sep === -1) return { kind: 'malformed', reason: 'no value: expected "<key> <value>"' };
  if (sep === 0)
    return { kind: 'malformed', reason: 'line starts with whitespace: expected "<key> <value>"' };
  const key = line.slice(0, sep);
  const value = line.slice(sep + 1);
  const problem = keyProblem(key) ?? valueProblem(value, valueMaxBytes);
  return problem ? { kind: 'malformed', reason: problem } : { kind: 'pair', key, value };
}
