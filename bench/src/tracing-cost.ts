import {
  type Logger,
  type NatsConnection,
  parseEnv,
  type Redis,
  startTracing,
  type Tracing,
  tracingEnv,
  tracingSettings,
  type WorkerSettings,
} from '@kvflow/common';
import { startJaeger } from '@kvflow/stack';
import { kvflowPublish } from './publish.js';
import { median, type Row, spread } from './report.js';
import { kvflowWorker } from './worker.js';

/** One round of the tracing phase: events/s with tracing off, sampling 1 trace in 100, and every event. */
export interface TracingRound {
  publishOff: number;
  publish001: number;
  publish1: number;
  workerOff: number;
  worker001: number;
  worker1: number;
}

type Level = 'off' | '001' | '1';
const LEVELS: Level[] = ['off', '001', '1'];

/**
 * What tracing costs: the publisher and the in-process worker, with tracing off, at ratio 0.01 and at 1.0, the
 * spans exported to a real Jaeger (in memory) as in production. The three run in a rotating order within each
 * round, so none always runs first; ratios are per round, their median reported.
 */
export async function tracingCost(
  nc: NatsConnection,
  redis: Redis,
  opts: { rounds: number; publishEvents: number; events: number; worker: WorkerSettings; log: Logger },
  say: (line: string) => void,
): Promise<{ rows: Row[]; result: Record<string, unknown>; rounds: TracingRound[] }> {
  const jaeger = await startJaeger();
  const tracingAt = (ratio: string): Tracing => {
    const s = tracingSettings(
      parseEnv(tracingEnv, {
        OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint,
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: ratio,
      }),
      'kvflow-bench',
    );
    return startTracing(s, 'bench') as Tracing;
  };
  const tracing = { off: undefined, '001': tracingAt('0.01'), '1': tracingAt('1') };
  const rounds: TracingRound[] = [];
  try {
    for (let r = 0; r < opts.rounds; r++) {
      const order = LEVELS.map((_, i) => LEVELS[(i + r) % LEVELS.length] as Level);
      const publish: Partial<Record<Level, number>> = {};
      const worker: Partial<Record<Level, number>> = {};
      for (const level of order) publish[level] = await kvflowPublish(nc, opts.publishEvents, tracing[level]);
      for (const level of order)
        worker[level] = await kvflowWorker(nc, redis, opts.events, opts.worker, opts.log, tracing[level]);
      const round: TracingRound = {
        publishOff: publish.off as number,
        publish001: publish['001'] as number,
        publish1: publish['1'] as number,
        workerOff: worker.off as number,
        worker001: worker['001'] as number,
        worker1: worker['1'] as number,
      };
      rounds.push(round);
      say(
        `tracing round ${r + 1}/${opts.rounds}: publish off ${round.publishOff.toFixed(0)}/s, 0.01 ` +
          `${round.publish001.toFixed(0)}/s, 1.0 ${round.publish1.toFixed(0)}/s; worker off ` +
          `${round.workerOff.toFixed(0)}/s, 0.01 ${round.worker001.toFixed(0)}/s, 1.0 ${round.worker1.toFixed(0)}/s`,
      );
    }
  } finally {
    await Promise.all([tracing['001'].shutdown(), tracing['1'].shutdown()]);
    await jaeger.stop();
  }
  const ratio = (num: keyof TracingRound, den: keyof TracingRound) => rounds.map((r) => r[num] / r[den]);
  const m = (k: keyof TracingRound) => median(rounds.map((r) => r[k]));
  const k = (n: number) => `${Math.round(n).toLocaleString('en-US')}/s`;
  const row = (
    figure: string,
    num: keyof TracingRound,
    den: keyof TracingRound,
    limit: number | null,
  ): Row => ({
    figure,
    kvflow: k(m(num)),
    anchor: `off: ${k(m(den))}`,
    value: Number(median(ratio(num, den)).toFixed(3)),
    target: limit === null ? null : { op: '>=', limit },
    rounds: ratio(num, den),
  });
  const rows = [
    row('publish, tracing 0.01 / off', 'publish001', 'publishOff', 0.95),
    row('publish, tracing 1.0 / off', 'publish1', 'publishOff', null),
    row('worker, tracing 0.01 / off', 'worker001', 'workerOff', 0.95),
    row('worker, tracing 1.0 / off', 'worker1', 'workerOff', null),
  ];
  const result = {
    tracing_publish_001_to_off: rows[0]?.value,
    tracing_publish_1_to_off: rows[1]?.value,
    tracing_worker_001_to_off: rows[2]?.value,
    tracing_worker_1_to_off: rows[3]?.value,
    tracing_spreads: {
      publish_001_to_off: spread(ratio('publish001', 'publishOff')),
      publish_1_to_off: spread(ratio('publish1', 'publishOff')),
      worker_001_to_off: spread(ratio('worker001', 'workerOff')),
      worker_1_to_off: spread(ratio('worker1', 'workerOff')),
    },
  };
  return { rows, result, rounds };
}
