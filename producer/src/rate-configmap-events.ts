import { ConfigError, parseEnv, type RateProfile } from '@kvflow/common';
import {
  LIVE_GENERATOR_KEYS,
  type LiveGeneratorKey,
  type LiveGeneratorSettings,
  liveGeneratorEnv,
  liveGeneratorSettings,
} from './settings.js';

/**
 * The pure half of following the rate ConfigMap: whether the ConfigMap's data is valid (by the producer's own
 * start-up rules), and what changed. No I/O here; the informer (rate-configmap-informer.ts) does the talking.
 */

export interface RateConfigProblem {
  key: LiveGeneratorKey;
  /** `RATE="abc" is invalid: expected a number from 0 to 1000000`: the key, the value and what is allowed. */
  message: string;
}

export type RateConfigRead =
  | { ok: true; settings: LiveGeneratorSettings }
  | { ok: false; problems: RateConfigProblem[] };

/**
 * Validates the ConfigMap's data with the producer's own variable rules (the ones start-up applies to the same
 * keys): a key that is absent takes its default, as it would after a restart. Every bad key is reported.
 */
export function readRateConfig(data: Record<string, string>): RateConfigRead {
  const problems: RateConfigProblem[] = [];
  for (const key of LIVE_GENERATOR_KEYS) {
    try {
      parseEnv({ [key]: liveGeneratorEnv[key] }, { [key]: data[key] });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const message of err.problems) problems.push({ key, message });
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, settings: liveGeneratorSettings.parse(data) };
}

/** Keys of the ConfigMap the producer does not follow live (ignored; reported so a typo does not go unseen). */
export function ignoredKeys(data: Record<string, string>): string[] {
  const live = new Set<string>(LIVE_GENERATOR_KEYS);
  return Object.keys(data).filter((k) => !live.has(k));
}

export function sameProfile(a: RateProfile, b: RateProfile): boolean {
  const ka = Object.keys(a) as Array<keyof RateProfile>;
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

export interface RateConfigChange {
  /** Set when the profile differs: apply it (the clock of the new profile starts at 0). */
  profile?: RateProfile;
  /** Set when the key space or the value size differs. */
  shape?: { keySpace: number; valueSize: number };
}

/** What to apply to go from the settings last applied to `next`; `{}` when nothing changed. */
export function diffRateConfig(
  current: LiveGeneratorSettings,
  next: LiveGeneratorSettings,
): RateConfigChange {
  const change: RateConfigChange = {};
  if (!sameProfile(current.profile, next.profile)) change.profile = next.profile;
  if (current.keySpace !== next.keySpace || current.valueSize !== next.valueSize)
    change.shape = { keySpace: next.keySpace, valueSize: next.valueSize };
  return change;
}
