import {
  connectNats,
  createLogger,
  type NatsConnection,
  provision,
  type StreamSettings,
} from '@kvflow/common';
import { freePort, httpReady, type ServiceProcess, waitUntil } from '@kvflow/stack';
import {
  connectionFor,
  scrapeMetric,
  serviceEnv,
  settingsFor,
  spawnService,
  startWorkerProcess,
  streamNames,
  waitCaughtUp,
} from '@kvflow/testkit';
import { jetstreamManager } from '@nats-io/jetstream';

/** What the chaos scenarios start: torn down in afterAll whatever happened, processes first, servers after. */
export class Teardown {
  readonly services: ServiceProcess[] = [];
  private readonly steps: Array<() => Promise<unknown>> = [];

  add(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (const s of this.services) s.child.kill('SIGKILL');
    await Promise.all(
      this.services.map((s) => Promise.race([s.exited, new Promise((r) => setTimeout(r, 5_000))])),
    );
    for (const step of this.steps.reverse())
      await step().catch((err: Error) => console.error(`chaos teardown: ${err.message}`));
  }
}

const COUNTERS = [
  'kvflow_redeliveries_total',
  'kvflow_transient_failures_total',
  'kvflow_redis_data_loss_repairs_total',
  'kvflow_redis_repaired_events_total',
] as const;
export type WorkerCounter = (typeof COUNTERS)[number];

/**
 * Worker counters summed over every worker a scenario ran, the SIGKILLed ones included (with the last value
 * scraped from them, so a worker killed between two scrapes is undercounted: the sums are lower bounds).
 */
export class WorkerCounters {
  private readonly last = new Map<number, Record<WorkerCounter, number>>();

  /** Scrapes the given workers (by metrics port); one that does not answer keeps its last values. */
  async scrape(ports: number[]): Promise<void> {
    await Promise.all(
      ports.map(async (port) => {
        try {
          const values = await Promise.all(COUNTERS.map((c) => scrapeMetric(port, c)));
          const record = {} as Record<WorkerCounter, number>;
          for (const [i, c] of COUNTERS.entries()) record[c] = values[i] ?? 0;
          this.last.set(port, record);
        } catch {
          // Gone (killed): its last scrape stands.
        }
      }),
    );
  }

  total(counter: WorkerCounter): number {
    let sum = 0;
    for (const v of this.last.values()) sum += v[counter];
    return sum;
  }
}

export interface Worker {
  service: ServiceProcess;
  port: number;
}

/** A stream of its own with a producer and workers on it, against the given servers. */
export interface Pipeline {
  env: Record<string, string>;
  settings: StreamSettings;
  /** The test's own NATS connection (reconnects by itself, like the services'). */
  nc: NatsConnection;
  api: string;
  producer: ServiceProcess;
  workers: Worker[];
  counters: WorkerCounters;
  startWorker(): Promise<Worker>;
  /** Scrapes every live worker's counters (the killed ones keep their last scrape). */
  scrape(): Promise<void>;
  caughtUp(timeoutMs?: number): Promise<void>;
  deadLetters(): Promise<number>;
}

export async function startPipeline(opts: {
  name: string;
  nats: { url: string };
  redis: { url: string };
  workers: number;
  env?: Record<string, string>;
  teardown: Teardown;
}): Promise<Pipeline> {
  const env = serviceEnv(opts.nats, opts.redis, {
    ...streamNames(opts.name),
    PROVISION: 'false',
    METRICS_HOST: '127.0.0.1',
    ...opts.env,
  });
  const settings = settingsFor(env);
  const nc = await connectNats(connectionFor(env), createLogger('chaos', 'silent'), `chaos-${opts.name}`);
  opts.teardown.add(() => nc.close());
  await provision(nc, settings);
  const apiPort = await freePort();
  const producer = spawnService('producer/dist/main.js', {
    ...env,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(apiPort),
  });
  opts.teardown.services.push(producer);
  const counters = new WorkerCounters();
  const workers: Worker[] = [];
  const startWorker = async () => {
    const w = await startWorkerProcess(env, opts.teardown.services);
    workers.push(w);
    return w;
  };
  for (let i = 0; i < opts.workers; i++) await startWorker();
  await waitUntil(`${opts.name} producer ready`, () => httpReady(apiPort));
  return {
    env,
    settings,
    nc,
    api: `http://127.0.0.1:${apiPort}`,
    producer,
    workers,
    counters,
    startWorker,
    scrape: () => counters.scrape(workers.filter((w) => stillRunning(w.service)).map((w) => w.port)),
    caughtUp: (timeoutMs = 60_000) => waitCaughtUp(nc, settings, timeoutMs),
    deadLetters: async () =>
      (await (await jetstreamManager(nc)).streams.info(settings.dlqStream)).state.messages,
  };
}

/** Whether a service process is still the one that was started (it never exited or was restarted). */
export function stillRunning(s: ServiceProcess): boolean {
  return s.child.exitCode === null && s.child.signalCode === null;
}
