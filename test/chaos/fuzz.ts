import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '@kvflow/stack';
import type { Teardown } from './stack.js';

/**
 * Examples per operation for the suite's run of scripts/fuzz-api.sh (FUZZ_MAX_EXAMPLES; the script's own default
 * is larger). Override with KVFLOW_FUZZ_MAX_EXAMPLES.
 */
export const SUITE_MAX_EXAMPLES = Number(process.env.KVFLOW_FUZZ_MAX_EXAMPLES ?? 15);

export interface FuzzRun {
  exitCode: number | null;
  /** The last lines of the output, for the failure message. */
  tail: string;
  figures: Record<string, number | string>;
}

/** Pulls schemathesis' summary figures ("1234 generated, 1230 passed, 4 failed", operations, seed) from its output. */
export function fuzzFigures(output: string): Record<string, number | string> {
  const figures: Record<string, number | string> = { maxExamplesPerOperation: SUITE_MAX_EXAMPLES };
  const cases =
    /Test cases:\s*\n?\s*(\d+) generated(?:, (\d+) found (\d+) unique failures?)?(?:, (\d+) passed)?/i.exec(
      output,
    );
  if (cases) {
    figures.testCases = Number(cases[1]);
    if (cases[3]) figures.uniqueFailures = Number(cases[3]);
  }
  const operations = /API Operations:\s*\n?\s*Selected:\s*(\d+)\/(\d+)/i.exec(output);
  if (operations) figures.operations = Number(operations[1]);
  const seed = /^Seed:\s*(\d+)/m.exec(output);
  if (seed?.[1]) figures.seed = seed[1];
  const took = /in ([\d.]+)s =+\s*$/m.exec(output);
  if (took) figures.schemathesisSeconds = Number(took[1]);
  return figures;
}

/** Runs scripts/fuzz-api.sh (its own producer and servers) in a process group of its own, bounded in time. */
export async function runFuzzer(teardown: Teardown, timeoutMs = 200_000): Promise<FuzzRun> {
  const child = spawn('bash', [join(ROOT, 'scripts/fuzz-api.sh')], {
    env: { ...process.env, FUZZ_MAX_EXAMPLES: String(SUITE_MAX_EXAMPLES), FUZZ_TIMEOUT_S: '180' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const group = () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null)
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
  };
  teardown.add(async () => group());
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const timer = setTimeout(group, timeoutMs);
  const exitCode = await new Promise<number | null>((resolve) =>
    child.once('close', (code) => resolve(code)),
  );
  clearTimeout(timer);
  const tail = output.trim().split('\n').slice(-60).join('\n');
  return { exitCode, tail: `scripts/fuzz-api.sh exited ${exitCode}:\n${tail}`, figures: fuzzFigures(output) };
}
