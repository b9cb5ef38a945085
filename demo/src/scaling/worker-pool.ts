import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, launchService, type ServiceProcess } from '@kvflow/stack';

export type WorkerState = 'starting' | 'ready' | 'draining' | 'restarting';

export interface WorkerTotals {
  events: number;
  applied: number;
  stale: number;
  deadLettered: number;
}

/** What a worker sends over its IPC channel right before it exits after draining (consumer/src/main.ts). */
export interface TotalsMessage {
  type: 'kvflow.totals';
  totals: WorkerTotals;
}

function isTotalsMessage(m: unknown): m is TotalsMessage {
  const t = (m as Partial<TotalsMessage> | null)?.totals;
  return (
    (m as Partial<TotalsMessage> | null)?.type === 'kvflow.totals' &&
    typeof t === 'object' &&
    t !== null &&
    (['events', 'applied', 'stale', 'deadLettered'] as const).every((k) => Number.isFinite(t[k]))
  );
}

export interface PoolWorker {
  id: number;
  name: string;
  metricsPort: number;
  state: WorkerState;
  restarts: number;
  process: ServiceProcess;
}

export interface PoolEvent {
  kind: 'started' | 'ready' | 'draining' | 'stopped' | 'crashed' | 'killed';
  worker: string;
  detail?: string;
}

/**
 * Worker processes as a Deployment would run them: scaled to a replica count, stopped with SIGTERM (SIGKILL only
 * when the grace period passes, like terminationGracePeriodSeconds), restarted when they crash. Pods being
 * terminated do not count as current replicas, as in the scale subresource the HPA reads.
 */
export class WorkerPool {
  private readonly workers: PoolWorker[] = [];
  private nextId = 1;
  private closed = false;
  /** Lifetime totals reported by workers that exited (each sends them over its IPC channel when it drains). */
  readonly exitedTotals: WorkerTotals = { events: 0, applied: 0, stale: 0, deadLettered: 0 };
  /** Every totals report received, in order: one per worker process that drained and exited cleanly. */
  readonly reports: Array<{ worker: string; totals: WorkerTotals }> = [];

  constructor(
    private readonly opts: {
      env: Record<string, string>;
      logDir: string;
      graceMs: number;
      onEvent?: (e: PoolEvent) => void;
    },
  ) {}

  get current(): number {
    return this.workers.filter((w) => w.state !== 'draining').length;
  }

  snapshot(): ReadonlyArray<Readonly<PoolWorker>> {
    return this.workers;
  }

  async scaleTo(replicas: number): Promise<void> {
    if (this.closed) return;
    while (this.current < replicas) await this.add();
    const surplus = this.current - replicas;
    if (surplus > 0) {
      // Like a ReplicaSet: not-ready ones first, then the newest.
      const victims = this.workers
        .filter((w) => w.state !== 'draining')
        .sort((a, b) => Number(a.state === 'ready') - Number(b.state === 'ready') || b.id - a.id)
        .slice(0, surplus);
      for (const w of victims) void this.drain(w);
    }
  }

  /** Drains every worker (SIGTERM, then SIGKILL after the grace period) and waits for all to exit. */
  async stopAll(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => this.drain(w)));
  }

  private async add(): Promise<void> {
    const id = this.nextId++;
    const worker: PoolWorker = {
      id,
      name: `worker-${id}`,
      metricsPort: await freePort(),
      state: 'starting',
      restarts: 0,
      process: undefined as unknown as ServiceProcess,
    };
    this.workers.push(worker);
    this.spawn(worker);
  }

  private spawn(w: PoolWorker): void {
    w.state = 'starting';
    w.process = launchService(
      'consumer/dist/main.js',
      {
        ...process.env,
        ...this.opts.env,
        METRICS_PORT: String(w.metricsPort),
        METRICS_HOST: '127.0.0.1',
      },
      {
        name: w.name,
        logFile: join(this.opts.logDir, `${w.name}.log`),
        onMessage: (m) => this.onMessage(w.name, m),
      },
    );
    this.opts.onEvent?.({ kind: 'started', worker: w.name });
    void this.watchReady(w, w.process);
    void w.process.exited.then(({ code }) => this.onExit(w, code));
  }

  private async watchReady(w: PoolWorker, proc: ServiceProcess): Promise<void> {
    while (w.process === proc && w.state === 'starting') {
      try {
        const res = await fetch(`http://127.0.0.1:${w.metricsPort}/readyz`, {
          signal: AbortSignal.timeout(1_000),
        });
        if (res.ok && w.state === 'starting') {
          w.state = 'ready';
          this.opts.onEvent?.({ kind: 'ready', worker: w.name });
          return;
        }
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
  }

  private onMessage(worker: string, m: unknown): void {
    if (!isTotalsMessage(m)) return;
    const { totals } = m;
    this.reports.push({ worker, totals: { ...totals } });
    this.exitedTotals.events += totals.events;
    this.exitedTotals.applied += totals.applied;
    this.exitedTotals.stale += totals.stale;
    this.exitedTotals.deadLettered += totals.deadLettered;
  }

  private async drain(w: PoolWorker): Promise<void> {
    if (w.state === 'draining') {
      await w.process.exited;
      return;
    }
    if (w.state === 'restarting') {
      // Crashed and waiting for its restart: nothing runs, so it just goes away.
      w.state = 'draining';
      this.workers.splice(this.workers.indexOf(w), 1);
      this.opts.onEvent?.({ kind: 'stopped', worker: w.name, detail: 'was restarting' });
      return;
    }
    w.state = 'draining';
    this.opts.onEvent?.({ kind: 'draining', worker: w.name });
    await w.process.stop(this.opts.graceMs);
    if (w.process.child.signalCode === 'SIGKILL') {
      this.opts.onEvent?.({ kind: 'killed', worker: w.name, detail: 'grace period exceeded' });
    }
  }

  private async onExit(w: PoolWorker, code: number | null): Promise<void> {
    if (w.state === 'draining') {
      this.workers.splice(this.workers.indexOf(w), 1);
      this.opts.onEvent?.({ kind: 'stopped', worker: w.name, detail: `exit ${code}` });
      return;
    }
    // Exited on its own: a crash. Restart it in place, as the kubelet would (with a short back-off).
    w.state = 'restarting';
    w.restarts++;
    this.opts.onEvent?.({ kind: 'crashed', worker: w.name, detail: `exit ${code}; restart #${w.restarts}` });
    await sleep(Math.min(500 * 2 ** (w.restarts - 1), 10_000));
    if (this.closed || w.state !== 'restarting') return;
    this.spawn(w);
  }
}
