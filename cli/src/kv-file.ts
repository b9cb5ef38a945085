import { keyProblem, valueProblem } from '@kvflow/common';

/**
 * The bulk-import format (README, "Operator CLI"), one `<key> <value>` pair per line:
 *
 * - The file is UTF-8. A UTF-8 byte order mark at the very start is ignored. A line that is not valid UTF-8 is
 *   malformed (never imported with replacement characters).
 * - Lines end at `\n` or `\r\n`. A lone `\r` is an ordinary character of the value (it ends no line), so a value
 *   can contain one anywhere except at its very end.
 * - The key runs up to the first space or tab; the value is everything after that one separator, kept exactly
 *   (inner and trailing spaces included). The key follows the key rules.
 * - Blank lines (empty or whitespace only) are skipped.
 * - The value must not be empty: `key` alone and `key ` (with a trailing separator) are both malformed, so an
 *   editor that strips trailing whitespace cannot turn one outcome into another (set empty value vs. skip).
 *   Set an empty value with `kvflow set KEY ''` or the API.
 *
 * Pure (no I/O), so it is tested fast.
 */
export type ParsedLine =
  | { kind: 'pair'; key: string; value: string }
  | { kind: 'blank' }
  | { kind: 'malformed'; reason: string };

const NO_VALUE = 'no value: expected "<key> <value>"';

/** Parses one line, without its line ending (a final `\r` of a CRLF line is dropped here too). */
export function parseKvLine(raw: string, valueMaxBytes: number): ParsedLine {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (line.trim() === '') return { kind: 'blank' };
  const sep = line.search(/[ \t]/);
  if (sep === 0)
    return { kind: 'malformed', reason: 'line starts with whitespace: expected "<key> <value>"' };
  const key = sep === -1 ? line : line.slice(0, sep);
  const value = sep === -1 ? '' : line.slice(sep + 1);
  const problem = keyProblem(key) ?? (value === '' ? NO_VALUE : valueProblem(value, valueMaxBytes));
  return problem ? { kind: 'malformed', reason: problem } : { kind: 'pair', key, value };
}

export interface KvFileScan {
  /** Lines read (1-based numbering: the last line's number). */
  lines: number;
  pairs: number;
  /** Pairs whose key appears again later in the file (the later line wins). */
  superseded: number;
  /** The last value of each key, in file order of last occurrence. */
  latest: Map<string, string>;
  /** Every malformed line is counted here... */
  malformed: number;
  /** ...and the first `maxErrors` are listed with their line numbers. */
  errors: Array<{ line: number; reason: string }>;
}

const LF = 0x0a;
const BOM = [0xef, 0xbb, 0xbf];
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }); // ignoreBOM: keep a U+FEFF, do not strip it

/**
 * Splits a byte stream into lines at `\n` only (a `\r` before it is removed by `parseKvLine`), drops a UTF-8
 * BOM at the start, and decodes each line strictly (null: not valid UTF-8).
 */
export async function* kvLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string | null> {
  let pending: Buffer = Buffer.alloc(0);
  let first = true;
  const decode = (bytes: Buffer): string | null => {
    let b = bytes;
    if (first) {
      first = false;
      if (b.length >= 3 && b[0] === BOM[0] && b[1] === BOM[1] && b[2] === BOM[2]) b = b.subarray(3);
    }
    try {
      return utf8.decode(b);
    } catch {
      return null;
    }
  };
  for await (const chunk of chunks) {
    let buf = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
    // A BOM split across the first chunks: wait for three bytes before deciding.
    if (first && buf.length < 3) {
      pending = buf;
      continue;
    }
    let start = 0;
    for (let nl = buf.indexOf(LF, start); nl !== -1; nl = buf.indexOf(LF, start)) {
      yield decode(buf.subarray(start, nl));
      start = nl + 1;
    }
    buf = buf.subarray(start);
    pending = buf;
  }
  if (pending.length > 0) yield decode(pending);
}

/** Reads a whole import file: the pairs to publish (later lines win) and every malformed line. */
export async function scanKvFile(
  chunks: AsyncIterable<Uint8Array>,
  valueMaxBytes: number,
  opts: { maxErrors?: number; onLine?: (lines: number) => void } = {},
): Promise<KvFileScan> {
  const maxErrors = opts.maxErrors ?? 100;
  const scan: KvFileScan = { lines: 0, pairs: 0, superseded: 0, latest: new Map(), malformed: 0, errors: [] };
  for await (const raw of kvLines(chunks)) {
    scan.lines++;
    const parsed: ParsedLine =
      raw === null
        ? { kind: 'malformed', reason: 'line is not valid UTF-8' }
        : parseKvLine(raw, valueMaxBytes);
    if (parsed.kind === 'pair') {
      scan.pairs++;
      if (scan.latest.has(parsed.key)) {
        scan.superseded++;
        scan.latest.delete(parsed.key); // re-insert so the map keeps file order of last occurrence
      }
      scan.latest.set(parsed.key, parsed.value);
    } else if (parsed.kind === 'malformed') {
      scan.malformed++;
      if (scan.errors.length < maxErrors) scan.errors.push({ line: scan.lines, reason: parsed.reason });
    }
    opts.onLine?.(scan.lines);
  }
  return scan;
}
