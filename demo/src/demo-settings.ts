import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AutoscalingSettings, autoscalingFromValues, mergeValues, type Values } from '@kvflow/autoscale';
import { ROOT } from '@kvflow/stack';
import { parse } from 'yaml';
import { z } from 'zod';

export const DEFAULT_VALUES_FILES = [
  join(ROOT, 'charts/kvflow/values.yaml'),
  join(ROOT, 'charts/kvflow/values-demo.yaml'),
];

const consumerValues = z
  .object({
    batchSize: z.number().int().positive().default(256),
    applyConcurrency: z.number().int().positive().default(2),
    workMs: z.number().min(0).default(0),
    maxEventsPerSec: z.number().min(0).default(0),
    shutdownGraceSeconds: z.number().int().positive().default(25),
  })
  .prefault({});

const podMonitorValues = z
  .object({
    podMonitor: z
      .object({
        interval: z
          .string()
          .regex(/^[0-9]+(ms|s|m)$/)
          .default('15s'),
      })
      .prefault({}),
  })
  .prefault({});

/** A Prometheus duration of the chart's form (500ms, 15s, 1m) in seconds. */
export function durationSeconds(d: string): number {
  const m = /^([0-9]+)(ms|s|m)$/.exec(d);
  if (!m) throw new Error(`not a duration: ${d} (expected e.g. 500ms, 15s or 1m)`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[m[2] as 'ms' | 's' | 'm'];
}

export interface DemoSettings {
  files: string[];
  autoscaling: AutoscalingSettings;
  /** How often Prometheus scrapes the producer (metrics.podMonitor.interval): the arrival rate's sample step. */
  scrapeIntervalSeconds: number;
  /** Environment for worker processes, from the chart's `consumer` values. */
  workerEnv: Record<string, string>;
  /** SIGTERM -> SIGKILL, as terminationGracePeriodSeconds in the chart (drain time + 5 s). */
  terminationGraceMs: number;
  /** With `--tracing`: the share of new traces recorded (the chart's tracing.sampleRatio). */
  tracingSampleRatio: number;
}

function sampleRatioOf(values: Values, files: string[]): number {
  const tracing = values.tracing as { sampleRatio?: unknown } | undefined;
  const ratio = tracing?.sampleRatio ?? 0.01;
  if (typeof ratio !== 'number' || ratio < 0 || ratio > 1)
    throw new Error(`invalid tracing.sampleRatio in ${files.join(' + ')}: expected a number from 0 to 1`);
  return ratio;
}

/** Reads and merges values files the way `helm -f a.yaml -f b.yaml` does (later files win). */
export function readValues(files: string[]): Values {
  return files.reduce<Values>((acc, file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`cannot read values file ${file}: ${(err as Error).message}`);
    }
    const parsed: unknown = parse(text) ?? {};
    if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${file}: expected a YAML map`);
    return mergeValues(acc, parsed as Values);
  }, {});
}

/** The same values files the chart renders from (helm -f order): autoscaling and worker settings. */
export function loadDemoSettings(files: string[] = DEFAULT_VALUES_FILES): DemoSettings {
  const values = readValues(files);
  const autoscaling = autoscalingFromValues(values, files.join(' + '));
  const parsed = consumerValues.safeParse(values.consumer);
  if (!parsed.success) {
    throw new Error(
      `invalid consumer settings in ${files.join(' + ')}: ${parsed.error.issues.map((i) => `consumer.${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const c = parsed.data;
  const metrics = podMonitorValues.safeParse(values.metrics);
  if (!metrics.success) {
    throw new Error(`invalid metrics.podMonitor.interval in ${files.join(' + ')}: expected e.g. 5s or 1m`);
  }
  return {
    files,
    autoscaling,
    scrapeIntervalSeconds: durationSeconds(metrics.data.podMonitor.interval),
    workerEnv: {
      BATCH_SIZE: String(c.batchSize),
      APPLY_CONCURRENCY: String(c.applyConcurrency),
      WORK_MS: String(c.workMs),
      MAX_EVENTS_PER_SEC: String(c.maxEventsPerSec),
      SHUTDOWN_GRACE_MS: String(c.shutdownGraceSeconds * 1000),
    },
    terminationGraceMs: (c.shutdownGraceSeconds + 5) * 1000,
    tracingSampleRatio: sampleRatioOf(values, files),
  };
}
