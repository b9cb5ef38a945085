#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { ConfigError, packageVersion, provision } from '@kvflow/common';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { listLetters, replayLetters } from './commands/dead-letters.js';
import { formatImportSummary, importFile } from './commands/import.js';
import { getKey, writeKey } from './commands/keys.js';
import { rebuild } from './commands/rebuild.js';
import { status } from './commands/status.js';
import { CliContext, CliError, EXIT } from './context.js';

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

/** The CLI's version: its package's (cli/package.json, next to dist/). */
const VERSION = packageVersion(import.meta.url);

let context: CliContext | null = null;
const ctx = () => {
  context ??= new CliContext();
  return context;
};

const program = new Command('kvflow')
  .description(
    'Operator commands for kvflow. Settings come from the environment and .env (see .env.example).',
  )
  .addHelpText(
    'after',
    `
Exit codes: 0 ok, 1 failure (e.g. NATS or Redis unreachable), 2 usage or configuration error,
            3 not found, 4 finished but some input was skipped (import with malformed lines).`,
  )
  .version(VERSION, '-V, --version', 'print the version and exit')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

program
  .command('provision')
  .description('create or update the event stream, dead-letter stream and durable consumer (idempotent)')
  .action(async () => {
    const result = await provision(await ctx().nats(), ctx().stream);
    out(
      `stream ${ctx().stream.stream}: ${result.stream}; dead-letter stream ${ctx().stream.dlqStream}: ${result.dlqStream}; consumer ${ctx().stream.consumer}: ${result.consumer}`,
    );
  });

program
  .command('import')
  .description('publish a file of "<key> <value>" lines as set events (later lines win)')
  .argument('<file>', 'path to the file')
  .option('-c, --concurrency <n>', 'publishes in flight at once', positiveInt, 512)
  .option('--dry-run', 'check the file and report, publish nothing', false)
  .option('--json', 'print the summary as JSON', false)
  .action(async (file: string, o: { concurrency: number; dryRun: boolean; json: boolean }) => {
    const summary = await importFile(ctx(), file, o);
    out(o.json ? JSON.stringify(summary) : formatImportSummary(summary, o.dryRun));
    if (summary.failed > 0) process.exitCode = EXIT.failure;
    else if (summary.malformed > 0) process.exitCode = EXIT.partial;
  });

program
  .command('rebuild')
  .description('replay the stream into Redis through the fenced apply (safe while workers run)')
  .option('--from-seq <seq>', 'first stream sequence to replay (default: the oldest stored)', positiveInt)
  .option('--reset', 'delete every kvflow key first, so Redis ends up exactly as the log says', false)
  .action(async (o: { fromSeq?: number; reset: boolean }) => out(await rebuild(ctx(), o)));

const dlq = program.command('dead-letters').description('inspect and replay dead letters');
dlq
  .command('list')
  .description('list dead letters with their reason and payload')
  .option('--json', 'one JSON object per line', false)
  .action(async (o: { json: boolean }) => {
    await listLetters(ctx(), o.json, out);
  });
dlq
  .command('replay')
  .description('republish dead letters to the event stream and remove them from the dead-letter stream')
  .argument('[seq...]', 'dead-letter sequences (from "list")')
  .option('--all', 'replay every dead letter', false)
  .action(async (seqs: string[], o: { all: boolean }) =>
    replayLetters(ctx(), seqs.map(positiveInt), o.all, out),
  );

program
  .command('get')
  .description("print a key's value from Redis (exit 3 if absent)")
  .argument('<key>')
  .action(async (key: string) => {
    const value = await getKey(ctx(), key);
    process.stdout.write(value);
    if (process.stdout.isTTY) out('');
  });

program
  .command('set')
  .description('write a key through the stream ("-" reads the value from stdin)')
  .argument('<key>')
  .argument('<value>')
  .action(async (key: string, value: string) => {
    const v = value === '-' ? readFileSync(0, 'utf8') : value;
    out(`accepted: seq ${await writeKey(ctx(), key, v)}`);
  });

program
  .command('del')
  .description('delete a key through the stream')
  .argument('<key>')
  .action(async (key: string) => out(`accepted: seq ${await writeKey(ctx(), key, null)}`));

program
  .command('status')
  .description('stream, consumer lag and dead-letter counts')
  .option('--json', 'print as JSON', false)
  .action(async (o: { json: boolean }) => {
    const s = await status(ctx());
    out(
      o.json
        ? JSON.stringify(s)
        : Object.entries(s)
            .map(([k, v]) => `${k.padEnd(22)} ${v}`)
            .join('\n'),
    );
  });

async function main(): Promise<number> {
  try {
    await program.parseAsync(process.argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`kvflow: ${err.message}\nSee .env.example for every setting and its default.\n`);
      return EXIT.usage;
    }
    if (err instanceof CliError) {
      process.stderr.write(`kvflow: ${err.message}\n`);
      return err.exitCode;
    }
    const cause = (err as Error).cause as Error | undefined;
    process.stderr.write(
      `kvflow: ${(err as Error).message}${cause && !(err as Error).message.includes(cause.message) ? ` (${cause.message})` : ''}\n`,
    );
    return EXIT.failure;
  } finally {
    await context?.close();
  }
}

main().then((code) => process.exit(code));
