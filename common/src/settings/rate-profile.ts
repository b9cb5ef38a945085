/**
 * Demo load profiles: the target rate (events/s) as a pure function of the seconds since the profile started.
 */
export type RateProfile =
  | { kind: 'constant'; rate: number }
  /** Alternates between `rate` and `stepRate` every `periodS` seconds. */
  | { kind: 'step'; rate: number; stepRate: number; periodS: number }
  /** `rate` ± `amplitude`, one full wave every `periodS` seconds (never below 0). */
  | { kind: 'sine'; rate: number; amplitude: number; periodS: number }
  /** `burstRate` for the first `burstS` seconds of every `periodS`, `rate` the rest of the time. */
  | { kind: 'burst'; rate: number; burstRate: number; burstS: number; periodS: number };

export const PROFILE_KINDS = ['constant', 'step', 'sine', 'burst'] as const;

/** A profile's settings as flat fields (environment variables, the /rate query): only the kind's own are used. */
export interface ProfileSettings {
  profile: RateProfile['kind'];
  rate: number;
  stepRate: number;
  periodS: number;
  amplitude: number;
  burstRate: number;
  burstS: number;
}

/** The numeric settings of a profile, with the one set of rules every entry point applies. */
export type RateField = Exclude<keyof ProfileSettings, 'profile'>;

export interface RateFieldRule {
  /** Environment variable (and the chart's rate ConfigMap key). */
  env: string;
  /** Key under `producer.rate` in the chart's values. */
  chartKey: string;
  /** `npm run rate` option (the rate itself is the positional argument). */
  flag: string;
  min: number;
  max: number;
  default: number;
  description: string;
}

const MAX_RATE = 1_000_000;
const DAY_S = 86_400;

/**
 * The rules for every numeric profile setting, in one place: the producer's environment schema, the `PUT /rate`
 * query schema, `npm run rate` and the chart's values schema (checked by a test) all follow them.
 */
export const RATE_FIELDS: Record<RateField, RateFieldRule> = {
  rate: {
    env: 'RATE',
    chartKey: 'rate',
    flag: 'RATE',
    min: 0,
    max: MAX_RATE,
    default: 0,
    description: 'events/s (fractions allowed; 0 = off)',
  },
  stepRate: {
    env: 'STEP_RATE',
    chartKey: 'stepRate',
    flag: '--step-rate',
    min: 0,
    max: MAX_RATE,
    default: 0,
    description: 'step: the rate to alternate with, events/s',
  },
  periodS: {
    env: 'PERIOD_S',
    chartKey: 'periodS',
    flag: '--period-s',
    min: 0.1,
    max: DAY_S,
    default: 60,
    description: 'step, sine and burst: the period, seconds',
  },
  amplitude: {
    env: 'SINE_AMPLITUDE',
    chartKey: 'sineAmplitude',
    flag: '--amplitude',
    min: 0,
    max: MAX_RATE,
    default: 0,
    description: 'sine: the rate swings by ± this many events/s',
  },
  burstRate: {
    env: 'BURST_RATE',
    chartKey: 'burstRate',
    flag: '--burst-rate',
    min: 0,
    max: MAX_RATE,
    default: 0,
    description: 'burst: the rate during a burst, events/s',
  },
  burstS: {
    env: 'BURST_S',
    chartKey: 'burstS',
    flag: '--burst-s',
    min: 0.1,
    max: DAY_S,
    default: 10,
    description: 'burst: the length of a burst, seconds',
  },
};

export const RATE_FIELD_NAMES = Object.keys(RATE_FIELDS) as RateField[];

/** Why `n` breaks the field's rule, or null when it is allowed. */
export function rateFieldProblem(field: RateField, n: number): string | null {
  const r = RATE_FIELDS[field];
  if (!Number.isFinite(n) || n < r.min || n > r.max) return `must be a number from ${r.min} to ${r.max}`;
  return null;
}

export function profileFrom(s: ProfileSettings): RateProfile {
  switch (s.profile) {
    case 'constant':
      return { kind: 'constant', rate: s.rate };
    case 'step':
      return { kind: 'step', rate: s.rate, stepRate: s.stepRate, periodS: s.periodS };
    case 'sine':
      return { kind: 'sine', rate: s.rate, amplitude: s.amplitude, periodS: s.periodS };
    case 'burst':
      return { kind: 'burst', rate: s.rate, burstRate: s.burstRate, burstS: s.burstS, periodS: s.periodS };
  }
}

export function targetRate(p: RateProfile, tS: number): number {
  switch (p.kind) {
    case 'constant':
      return p.rate;
    case 'step':
      return Math.floor(tS / p.periodS) % 2 === 0 ? p.rate : p.stepRate;
    case 'sine':
      return Math.max(0, p.rate + p.amplitude * Math.sin((2 * Math.PI * tS) / p.periodS));
    case 'burst':
      return tS % p.periodS < p.burstS ? p.burstRate : p.rate;
  }
}

/** One line a person can read, for logs and the live view. */
export function describeProfile(p: RateProfile): string {
  switch (p.kind) {
    case 'constant':
      return `constant ${p.rate}/s`;
    case 'step':
      return `step ${p.rate}/s <-> ${p.stepRate}/s every ${p.periodS}s`;
    case 'sine':
      return `sine ${p.rate}±${p.amplitude}/s over ${p.periodS}s`;
    case 'burst':
      return `burst ${p.burstRate}/s for ${p.burstS}s every ${p.periodS}s, else ${p.rate}/s`;
  }
}
