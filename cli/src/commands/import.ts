import { type FileHandle, open } from 'node:fs/promises';
import { newEvent, Publisher } from '@kvflow/common';
import { type CliContext, CliError, EXIT } from '../context.js';
import { scanKvFile } from '../kv-file.js';
import { Progress } from '../progress.js';

export interface ImportSummary {
  file: string;
  lines: number;
  pairs: number;
  /** Pairs whose key appears again later in the file (the later line wins). */
  superseded: number;
  published: number;
  failed: number;
  malformed: number;
  /** The first MAX_REPORTED_ERRORS malformed lines, with 1-based line numbers (`malformed` counts them all). */
  errors: Array<{ line: number; reason: string }>;
  seconds: number;
}

const MAX_REPORTED_ERRORS = 100;

const isADirectory = (file: string) => `${file} is a directory: give a file of "<key> <value>" lines`;

/** Why a path cannot be imported, in words (exit 2: the path given is wrong), or null for another failure. */
function pathProblem(file: string, err: NodeJS.ErrnoException): string | null {
  switch (err.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return `cannot read ${file}: no such file`;
    case 'EACCES':
    case 'EPERM':
      return `cannot read ${file}: permission denied`;
    case 'EISDIR':
      return isADirectory(file);
    default:
      return null;
  }
}

/** Opens the file to import, or throws a CliError saying what is wrong with the path. */
async function openInput(file: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const problem = pathProblem(file, e);
    throw new CliError(problem ?? `cannot read ${file}: ${e.message}`, problem ? EXIT.usage : EXIT.failure);
  }
  // open() takes a directory (only reading it fails, with EISDIR): ask first.
  if ((await handle.stat()).isDirectory()) {
    await handle.close();
    throw new CliError(isADirectory(file), EXIT.usage);
  }
  return handle;
}

/**
 * Publishes a `<key> <value>` file as set events. Later lines win: the file is read first into a map of the last
 * value per key, then the map is published with bounded concurrency (publishing concurrently does not preserve
 * the order of two writes to the same key, so a key is published once).
 */
export async function importFile(
  ctx: CliContext,
  file: string,
  opts: { concurrency: number; dryRun: boolean },
): Promise<ImportSummary> {
  const handle = await openInput(file);
  const size = (await handle.stat()).size;
  const summary: ImportSummary = {
    file,
    lines: 0,
    pairs: 0,
    superseded: 0,
    published: 0,
    failed: 0,
    malformed: 0,
    errors: [],
    seconds: 0,
  };
  // Bytes, not text: the format's line ends, BOM and UTF-8 check are kv-file.ts's (readline would split at a lone \r).
  const input = handle.createReadStream();
  const reading = new Progress('reading  ', size);
  const { latest, ...scanned } = await scanKvFile(input, ctx.stream.valueMaxBytes, {
    maxErrors: MAX_REPORTED_ERRORS,
    onLine: (n) => {
      if (n % 5_000 === 0) reading.update(input.bytesRead);
    },
  });
  Object.assign(summary, scanned);
  reading.update(size);
  reading.stop();

  const publishing = new Progress('importing', latest.size);
  if (!opts.dryRun && latest.size > 0) {
    const nc = await ctx.nats();
    const publisher = new Publisher(nc, {
      subject: ctx.stream.subject,
      maxInFlight: opts.concurrency,
      timeoutMs: 5_000,
      retries: 5,
    });
    const pending = new Set<Promise<void>>();
    let lastError = '';
    for (const [key, value] of latest) {
      const event = newEvent({ op: 'set', key, value, src: 'import' });
      const p = publisher.publish(event).then(
        () => {
          summary.published++;
        },
        (err: Error) => {
          summary.failed++;
          lastError = err.message;
        },
      );
      const tracked = p.finally(() => {
        pending.delete(tracked);
        if ((summary.published + summary.failed) % 1_000 === 0)
          publishing.update(summary.published + summary.failed);
      });
      pending.add(tracked);
      if (pending.size >= opts.concurrency) await Promise.race(pending);
    }
    await Promise.all(pending);
    publisher.close();
    publishing.update(summary.published + summary.failed);
    if (summary.failed > 0) process.stderr.write(`last publish error: ${lastError}\n`);
  }
  publishing.stop();
  summary.seconds = publishing.elapsedS + reading.elapsedS;
  return summary;
}

export function formatImportSummary(s: ImportSummary, dryRun: boolean): string {
  const lines = [
    `${dryRun ? 'checked (dry run, nothing published)' : 'imported'} ${s.file}: ${s.lines} lines, ${s.pairs} pairs, ` +
      `${s.pairs - s.superseded} keys`,
    `  published: ${s.published}   failed: ${s.failed}   superseded by a later line: ${s.superseded}   ` +
      `malformed (skipped): ${s.malformed}`,
  ];
  for (const e of s.errors) lines.push(`  line ${e.line}: ${e.reason}`);
  if (s.malformed > s.errors.length)
    lines.push(`  … and ${s.malformed - s.errors.length} more malformed lines`);
  return lines.join('\n');
}
