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
