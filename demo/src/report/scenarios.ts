/**
 * Scripted rate changes for non-interactive demos: at second `at`, set the producer's rate generator to `rate`
 * (query parameters of PUT /rate). Rates are sized for the demo settings (about 250 events/s per worker, up to
 * 6 workers), so each scenario scales out and back to zero inside two minutes.
 */
export interface RateChange {
  at: number;
  rate: Record<string, string | number>;
  label: string;
}

export const SCENARIOS: Record<string, { description: string; steps: RateChange[] }> = {
  burst: {
    description: 'quiet, a 30 s burst at 1000 events/s, quiet again: 0 -> N -> 0',
    steps: [
      { at: 0, rate: { rate: 0 }, label: 'quiet' },
      { at: 5, rate: { rate: 1000 }, label: 'burst 1000/s' },
      { at: 35, rate: { rate: 0 }, label: 'quiet' },
    ],
  },
  step: {
    description: '200/s, then 800/s, then 0: one worker, several, none',
    steps: [
      { at: 0, rate: { rate: 200 }, label: 'step 200/s' },
      { at: 20, rate: { rate: 800 }, label: 'step 800/s' },
      { at: 50, rate: { rate: 0 }, label: 'quiet' },
    ],
  },
  sine: {
    description: 'a 60 s sine wave between 0 and 1000 events/s, then quiet',
    steps: [
      { at: 0, rate: { profile: 'sine', rate: 500, amplitude: 500, periodS: 60 }, label: 'sine 500±500/s' },
      { at: 60, rate: { rate: 0 }, label: 'quiet' },
    ],
  },
  spike: {
    description: 'a 10 s spike at 1000 events/s, then quiet: 0 -> N -> 0 in well under a minute',
    steps: [
      { at: 0, rate: { rate: 0 }, label: 'quiet' },
      { at: 2, rate: { rate: 1000 }, label: 'spike 1000/s' },
      { at: 12, rate: { rate: 0 }, label: 'quiet' },
    ],
  },
  constant: {
    description: '300/s for 40 s, then quiet',
    steps: [
      { at: 0, rate: { rate: 300 }, label: 'constant 300/s' },
      { at: 40, rate: { rate: 0 }, label: 'quiet' },
    ],
  },
};

/** Seconds at which the scenario's last non-zero rate ends (the time back to zero is measured from here). */
export function loadEndsAt(steps: RateChange[]): number {
  const last = [...steps].reverse().find((s) => Number(s.rate.rate) === 0 && s.rate.profile === undefined);
  return last?.at ?? 0;
}

/** Seconds at which the first non-zero rate starts (time to first scale-up is measured from here). */
export function loadStartsAt(steps: RateChange[]): number {
  return steps.find((s) => Number(s.rate.rate) > 0 || s.rate.profile !== undefined)?.at ?? 0;
}
