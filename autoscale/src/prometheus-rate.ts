/**
 * What KEDA's prometheus trigger reads for `sum(rate(counter[window]))`: Prometheus's rate() over the samples its
 * scrapes took, as a pure function (promql/functions.go extrapolatedRate, Prometheus v3). A counter that went down
 * was reset: the value before the reset counts as already added. The range is left-open: (now - window, now].
 *
 * Fewer than two samples in the range give no result; KEDA's prometheus scaler then answers 0 (ignoreNullValues
 * defaults to true), and so does `read` here.
 */
export interface CounterSample {
  /** Seconds on the caller's clock. */
  t: number;
  value: number;
}

export function extrapolatedRate(samples: CounterSample[], now: number, windowSeconds: number): number {
  const start = now - windowSeconds;
  const inRange = samples.filter((s) => s.t > start && s.t <= now);
  const first = inRange[0];
  const last = inRange.at(-1);
  if (!first || !last || inRange.length < 2) return 0;
  let delta = last.value - first.value;
  for (let i = 1; i < inRange.length; i++) {
    const prev = inRange[i - 1] as CounterSample;
    if ((inRange[i] as CounterSample).value < prev.value) delta += prev.value;
  }
  const sampled = last.t - first.t;
  if (sampled <= 0) return 0;
  const averageStep = sampled / (inRange.length - 1);
  const threshold = averageStep * 1.1;
  let toStart = first.t - start;
  let toEnd = now - last.t;
  if (toStart >= threshold) toStart = averageStep / 2;
  if (toEnd >= threshold) toEnd = averageStep / 2;
  // A counter does not extrapolate below zero: it started no earlier than where the line through it meets 0.
  if (delta > 0 && first.value >= 0) {
    const toZero = sampled * (first.value / delta);
    if (toZero < toStart) toStart = toZero;
  }
  return (delta * ((sampled + toStart + toEnd) / sampled)) / windowSeconds;
}

/** A counter's scrapes, kept for one window: `add` at every scrape, `read` at every poll. */
export class CounterRate {
  private samples: CounterSample[] = [];

  constructor(readonly windowSeconds: number) {}

  add(t: number, value: number): void {
    this.samples.push({ t, value });
    const keepFrom = t - this.windowSeconds;
    while ((this.samples[0]?.t ?? keepFrom) <= keepFrom - 1) this.samples.shift();
  }

  read(now: number): number {
    return extrapolatedRate(this.samples, now, this.windowSeconds);
  }
}
