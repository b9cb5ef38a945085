import { setTimeout as sleep } from 'node:timers/promises';
import type { LagReading } from '@kvflow/autoscale';
import { parsePromText, sumOf } from '../observe/prom-text.js';
import type { WorkerPool } from '../scaling/worker-pool.js';

/**
 * What one worker applies per second with the values' consumer settings (the demo's simulated work per event):
 * the measurement `autoscaling.arrivalRate.perWorkerRate` is chosen from. A backlog is built first with no worker
 * running, then one worker drains it while its own applied counter is read over consecutive windows; the backlog
 * never runs out during a window, so each window is the worker's capacity, not the arrival rate.
 */
export interface WorkerCapacity {
  windows_s: number;
  /** Events/s of each window, in order. */
  events_per_s: number[];
  median_events_per_s: number;
  min_events_per_s: number;
  max_events_per_s: number;
  worker_env: Record<string, string>;
}

async function appliedBy(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`worker metrics answered ${res.status}`);
  return sumOf(parsePromText(await res.text()), 'kvflow_events_applied_total');
}

export async function measureWorkerCapacity(input: {
  pool: WorkerPool;
  workerEnv: Record<string, string>;
  /** Sets the producer's generator rate (events/s). */
  setRate: (rate: number) => Promise<void>;
  readLag: () => Promise<LagReading>;
  say: (line: string) => void;
  windows?: number;
  windowS?: number;
}): Promise<WorkerCapacity> {
  const windows = input.windows ?? 5;
  const windowS = input.windowS ?? 10;
  // Enough for every window at up to 1,000 events/s plus the warm-up, published before any worker runs.
  const backlog = 1_000 * (windows * windowS + 10);
  input.say(`building a backlog of ${backlog.toLocaleString('en-US')} events with no worker running`);
  await input.setRate(5_000);
  for (let lag = 0; lag < backlog; ) {
    await sleep(500);
    lag = (await input.readLag()).lag;
  }
  await input.setRate(0);
  await input.pool.scaleTo(1);
  const worker = input.pool.snapshot()[0];
  if (!worker) throw new Error('the worker did not start');
  for (let i = 0; worker.state !== 'ready'; i++) {
    if (i > 200) throw new Error(`${worker.name} did not become ready within 20 s`);
    await sleep(100);
  }
  await sleep(3_000); // warm-up: the first pulls, JIT
  const rates: number[] = [];
  let before = await appliedBy(worker.metricsPort);
  let at = performance.now();
  for (let i = 0; i < windows; i++) {
    await sleep(windowS * 1000);
    const applied = await appliedBy(worker.metricsPort);
    const now = performance.now();
    const lag = (await input.readLag()).lag;
    if (lag === 0)
      throw new Error('the backlog ran out during a window: the figure would be the arrival rate');
    rates.push(Math.round(((applied - before) / (now - at)) * 1000 * 10) / 10);
    input.say(`window ${i + 1}/${windows}: ${rates.at(-1)} events/s (lag ${lag})`);
    before = applied;
    at = now;
  }
  const sorted = [...rates].sort((a, b) => a - b);
  return {
    windows_s: windowS,
    events_per_s: rates,
    median_events_per_s: sorted[Math.floor(sorted.length / 2)] as number,
    min_events_per_s: sorted[0] as number,
    max_events_per_s: sorted.at(-1) as number,
    worker_env: input.workerEnv,
  };
}
