import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineSettings, env, workerEnv, workerSettings } from '@kvflow/common';
import { quantityBytes, ROOT } from '@kvflow/stack';
import { parse } from 'yaml';

/**
 * The benchmark's knobs. `--quick` (or BENCH_QUICK=true) shrinks every phase so a run takes under two minutes; the
 * worker under test always runs with the consumer's own settings (BATCH_SIZE, APPLY_CONCURRENCY, …).
 */
export const benchSettings = defineSettings(
  {
    ...workerEnv,
    BENCH_QUICK: env.bool(false),
    BENCH_ROUNDS: env.int(3, 1, 50),
    BENCH_EVENTS: env.int(100_000, 1_000),
    BENCH_PUBLISH_EVENTS: env.int(100_000, 1_000),
    BENCH_HTTP_SECONDS: env.int(10, 1, 600),
    BENCH_E2E_SECONDS: env.int(15, 1, 600),
  },
  (e) => {
    const quick = e.BENCH_QUICK || process.argv.includes('--quick');
    return {
      quick,
      worker: workerSettings(e),
      rounds: quick ? 2 : e.BENCH_ROUNDS,
      events: quick ? 20_000 : e.BENCH_EVENTS,
      publishEvents: quick ? 30_000 : e.BENCH_PUBLISH_EVENTS,
      httpSeconds: quick ? 3 : e.BENCH_HTTP_SECONDS,
      e2eSeconds: quick ? 5 : e.BENCH_E2E_SECONDS,
    };
  },
);

export type BenchSettings = ReturnType<typeof benchSettings.parse>;

/** The worker's memory limit in its pod: `consumer.resources.limits.memory` in the chart's values. */
export function chartWorkerMemoryLimit(file = resolve(ROOT, 'charts/kvflow/values.yaml')): {
  quantity: string;
  bytes: number;
} {
  const values = parse(readFileSync(file, 'utf8')) as {
    consumer?: { resources?: { limits?: { memory?: unknown } } };
  } | null;
  const quantity = values?.consumer?.resources?.limits?.memory;
  if (typeof quantity !== 'string') throw new Error(`${file}: no consumer.resources.limits.memory`);
  return { quantity, bytes: quantityBytes(quantity) };
}
