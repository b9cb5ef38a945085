import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The demo's knob, outside the worker's path: the runtime hands `spend` to the worker as its `beforeApply` hook only
 * when WORK_MS or MAX_EVENTS_PER_SEC is set. It makes a worker slower on purpose (simulated work per event, or a cap on events/s) so that a
 * backlog builds at rates a laptop can produce and the scaler has something to react to. Off by default.
 */
export class SimulatedWork {
  private readonly msPerEvent: number;
  /** Simulated work is serialized: a worker is one CPU, however many batches it applies at once. */
  private busyUntil: Promise<void> = Promise.resolve();

  constructor(workMs: number, maxEventsPerSec: number) {
    this.msPerEvent = Math.max(workMs, maxEventsPerSec > 0 ? 1000 / maxEventsPerSec : 0);
  }

  get enabled(): boolean {
    return this.msPerEvent > 0;
  }

  /**
   * A batch size that keeps about one second of simulated work in hand over the `held` batches a worker holds at
   * once (being applied, queued and being pulled), so one worker does not hoard events.
   */
  batchSize(configured: number, held: number): number {
    if (!this.enabled) return configured;
    return Math.max(1, Math.min(configured, Math.ceil(1000 / this.msPerEvent / held)));
  }

  spend(events: number): Promise<void> {
    if (!this.enabled || events <= 0) return Promise.resolve();
    this.busyUntil = this.busyUntil.then(() => sleep(this.msPerEvent * events));
    return this.busyUntil;
  }
}
