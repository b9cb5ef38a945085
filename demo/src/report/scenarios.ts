/**
 * Scripted rate changes for non-interactive demos: at second `at`, set the producer's rate generator to `rate`
 * (query parameters of PUT /rate); the rate goes to 0 when the scenario's duration ends. Rates are sized for the
 * demo settings (values-demo.yaml: one worker applies about 250 events/s, up to 6 workers).
 */
export interface RateChange {
  at: number;
  rate: Record<string, string | number>;
  label: string;
}

export interface Scenario {
  description: string;
  steps: RateChange[];
  /** Seconds the scenario runs when --duration is not given (120 when absent). */
  durationS?: number;
  /** Seconds at which one key is written and read back with ?min_seq= (a user's single write). */
  writes?: number[];
}

export const SCENARIOS: Record<string, Scenario> = {
  'idle-write': {
    description:
      'no load; one write at 5 s and one at 45 s, each from no worker running, read back with ?min_seq=',
    steps: [{ at: 0, rate: { rate: 0 }, label: 'quiet' }],
    writes: [5, 45],
    durationS: 70,
  },
  steady: {
    description: 'a constant 900 events/s, well inside what 6 workers apply: the count must hold',
    steps: [{ at: 0, rate: { rate: 900 }, label: 'steady 900/s' }],
    durationS: 630,
  },
  step: {
    description: '300/s, then x3 to 900/s, then back to 300/s: how fast the count follows a step, both ways',
    steps: [
      { at: 0, rate: { rate: 300 }, label: 'step 300/s' },
      { at: 120, rate: { rate: 900 }, label: 'step x3 900/s' },
      { at: 240, rate: { rate: 300 }, label: 'step back 300/s' },
    ],
    durationS: 360,
  },
  burst: {
    description: 'quiet, a 30 s burst at 1000 events/s, quiet again: 0 -> N -> 0',
    steps: [
      { at: 0, rate: { rate: 0 }, label: 'quiet' },
      { at: 5, rate: { rate: 1000 }, label: 'burst 1000/s' },
      { at: 35, rate: { rate: 0 }, label: 'quiet' },
    ],
  },
  stairs: {
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

const isQuiet = (s: RateChange) => Number(s.rate.rate) === 0 && s.rate.profile === undefined;

/**
 * Seconds at which the scenario's load ends (the time back to zero is measured from here): its last step to 0, or
 * the end of the run when the load lasts to it.
 */
export function loadEndsAt(steps: RateChange[], durationS: number): number {
  const last = steps.at(-1);
  return last && isQuiet(last) ? last.at : durationS;
}

/** The loaded stretches of a run: each step with a rate, from its start to the next step (or the run's end). */
export function loadSegments(
  steps: RateChange[],
  durationS: number,
): Array<{ from: number; to: number; step: RateChange }> {
  return steps
    .map((step, i) => ({ from: step.at, to: Math.min(steps[i + 1]?.at ?? durationS, durationS), step }))
    .filter((seg) => !isQuiet(seg.step) && seg.to > seg.from);
}

/** Seconds at which the first non-zero rate starts (time to first scale-up is measured from here). */
export function loadStartsAt(steps: RateChange[]): number {
  return steps.find((s) => Number(s.rate.rate) > 0 || s.rate.profile !== undefined)?.at ?? 0;
}
