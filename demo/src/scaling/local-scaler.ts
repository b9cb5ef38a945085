import type { AutoscalingSettings, LagReading } from '@kvflow/autoscale';
import { type Decision, KedaHpaModel } from '@kvflow/autoscale';
import { Counter, Gauge, type Registry } from '@kvflow/common';
import type { WorkerPool } from './worker-pool.js';

function createScalerMetrics(registry: Registry, currentReplicas: () => number) {
  return {
    backlog: new Gauge({
      name: 'kvflow_backlog',
      help: 'Consumer lag as the scaler sees it: num_pending + num_ack_pending',
      registers: [registry],
    }),
    arrivalRate: new Gauge({
      name: 'kvflow_scaler_arrival_rate',
      help: 'Events/s arriving in the stream as the arrival-rate trigger sees it (rate of kvflow_events_produced_total)',
      registers: [registry],
    }),
    desired: new Gauge({
      name: 'kvflow_scaler_desired_replicas',
      help: 'Replicas the local scaler (KEDA + HPA rules) wants',
      registers: [registry],
    }),
    current: new Gauge({
      name: 'kvflow_scaler_current_replicas',
      help: 'Worker processes running and not terminating',
      registers: [registry],
      collect() {
        this.set(currentReplicas());
      },
    }),
    decisions: new Counter({
      name: 'kvflow_scaler_decisions_total',
      help: 'Scaling decisions, by who made them (keda, hpa)',
      labelNames: ['by'] as const,
      registers: [registry],
    }),
  };
}

export interface ScalerDecision extends Decision {
  by: 'keda' | 'hpa';
  from: number;
  at: number;
}

export interface ScalerOptions {
  /** The arrival-rate trigger's reading (events/s); needed when `arrivalRate.enabled`. */
  readRate?: () => number;
  onDecision?: (d: ScalerDecision) => void;
}

/**
 * Runs the KEDA + HPA model against the real system: KEDA's poll every `pollingInterval` and the HPA's sync every
 * `hpa.syncPeriodSeconds`, each reading lag fresh from the NATS monitoring endpoint (and the arrival rate, when that
 * trigger is on), and applies decisions to the worker pool.
 */
export class LocalScaler {
  private readonly model: KedaHpaModel;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly started = performance.now();
  private readonly gauges: ReturnType<typeof createScalerMetrics>;
  lastLag: number | null = null;
  lastRate: number | null = null;
  lastError: string | null = null;
  desired = 0;
  readonly decisions: ScalerDecision[] = [];

  constructor(
    readonly settings: AutoscalingSettings,
    private readonly readLag: () => Promise<LagReading>,
    private readonly pool: WorkerPool,
    registry: Registry,
    private readonly options: ScalerOptions = {},
  ) {
    if (settings.arrivalRate.enabled && !options.readRate)
      throw new Error('autoscaling.arrivalRate.enabled: the local scaler needs a reader of the arrival rate');
    this.model = new KedaHpaModel(settings);
    this.gauges = createScalerMetrics(registry, () => this.pool.current);
  }

  /** Seconds since the scaler started (the model's clock). */
  now(): number {
    return (performance.now() - this.started) / 1000;
  }

  start(): void {
    const keda = () => void this.tick('keda');
    const hpa = () => void this.tick('hpa');
    keda();
    this.timers.push(setInterval(keda, this.settings.pollingInterval * 1000));
    this.timers.push(setInterval(hpa, this.settings.hpa.syncPeriodSeconds * 1000));
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
  }

  private async tick(by: 'keda' | 'hpa'): Promise<void> {
    let lag: number | null = null;
    try {
      lag = (await this.readLag()).lag;
      this.lastError = null;
      this.lastLag = lag;
      this.gauges.backlog.set(lag);
    } catch (err) {
      // A failing scaler (no fallback configured): the model holds, except for the HPA's min/max clamps.
      this.lastError = (err as Error).message;
    }
    const rate = this.options.readRate?.() ?? null;
    if (rate !== null) {
      this.lastRate = rate;
      this.gauges.arrivalRate.set(rate);
    }
    const current = this.pool.current;
    const now = this.now();
    const d =
      by === 'keda'
        ? this.model.kedaPoll(now, lag, current, rate)
        : this.model.hpaSync(now, lag, current, rate);
    if (!d) {
      this.desired = current;
      this.gauges.desired.set(current);
      return;
    }
    this.desired = d.replicas;
    this.gauges.desired.set(d.replicas);
    this.gauges.decisions.inc({ by });
    const decision = { ...d, by, from: current, at: now };
    this.decisions.push(decision);
    this.options.onDecision?.(decision);
    await this.pool.scaleTo(d.replicas);
  }
}
