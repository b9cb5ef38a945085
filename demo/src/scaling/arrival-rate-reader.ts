import { CounterRate } from '@kvflow/autoscale';
import { parsePromText, sumOf } from '../observe/prom-text.js';

/** The counter the chart's prometheus trigger asks Prometheus the rate of (templates/scaledobject.yaml). */
export const ARRIVAL_COUNTER = 'kvflow_events_produced_total';

/**
 * The local Prometheus for the arrival-rate trigger: scrapes the producer's /metrics every scrape interval (as the
 * chart's PodMonitor makes Prometheus do) and answers `sum(rate(kvflow_events_produced_total[window]))` for the
 * local scaler. A failed scrape leaves a gap, as a target that is down does.
 */
export class ArrivalRateReader {
  private readonly counter: CounterRate;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly producerPort: number,
    windowSeconds: number,
    private readonly scrapeIntervalSeconds: number,
    /** Seconds on the scaler's clock. */
    private readonly now: () => number,
  ) {
    this.counter = new CounterRate(windowSeconds);
  }

  start(): this {
    void this.scrape();
    this.timer = setInterval(() => void this.scrape(), this.scrapeIntervalSeconds * 1000);
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Events/s arriving in the stream over the window, as KEDA's prometheus scaler would read it now. */
  read(): number {
    return this.counter.read(this.now());
  }

  private async scrape(): Promise<void> {
    const t = this.now();
    try {
      const res = await fetch(`http://127.0.0.1:${this.producerPort}/metrics`, {
        signal: AbortSignal.timeout(Math.min(this.scrapeIntervalSeconds * 1000, 2000)),
      });
      if (res.ok) this.counter.add(t, sumOf(parsePromText(await res.text()), ARRIVAL_COUNTER));
    } catch {
      // the producer did not answer: no sample this time
    }
  }
}
