import { ConfigError, parseEnv, type RateProfile } from '@kvflow/common';
import {
  LIVE_GENERATOR_KEYS,
  type LiveGeneratorKey,
  type LiveGeneratorSettings,
  liveGeneratorEnv,
  liveGeneratorSettings,
} from './settings.js';

/**
 * The pure half of following the rate ConfigMap: what a Kubernetes list or watch response says, whether the
 * ConfigMap's data is valid (by the producer's own start-up rules), and what changed. No I/O here; the watch
 * client (rate-configmap-watch.ts) does the talking.
 */

/** One line of a watch stream, reduced to what the follower acts on. */
export type WatchStep =
  /** ADDED or MODIFIED: the ConfigMap as it is now. */
  | { kind: 'data'; resourceVersion: string; data: Record<string, string> }
  | { kind: 'deleted'; resourceVersion: string }
  /** Nothing changed; resume from here after a reconnect. */
  | { kind: 'bookmark'; resourceVersion: string }
  /** 410: the resourceVersion is too old to resume from: list again. */
  | { kind: 'gone'; message: string }
  /** Any other error Status: reconnect after a backoff. */
  | { kind: 'error'; code: number; message: string }
  | { kind: 'unreadable'; message: string };

interface ObjectMeta {
  metadata?: { resourceVersion?: unknown };
  data?: unknown;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function stringData(data: unknown): Record<string, string> {
  if (!isRecord(data)) return {};
  return Object.fromEntries(
    Object.entries(data).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

function versionOf(o: ObjectMeta): string | undefined {
  const rv = o.metadata?.resourceVersion;
  return typeof rv === 'string' && rv !== '' ? rv : undefined;
}

/** Reads one line of a `watch=true` response (newline-delimited JSON `{type, object}`). */
export function parseWatchLine(line: string): WatchStep {
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    return { kind: 'unreadable', message: `not JSON: ${line.slice(0, 200)}` };
  }
  if (!isRecord(event) || !isRecord(event.object) || typeof event.type !== 'string')
    return { kind: 'unreadable', message: `not a watch event: ${line.slice(0, 200)}` };
  const object = event.object as ObjectMeta & { code?: unknown; message?: unknown; reason?: unknown };
  if (event.type === 'ERROR') {
    const code = typeof object.code === 'number' ? object.code : 0;
    const message = `${String(object.reason ?? 'Error')}: ${String(object.message ?? '')}`;
    return code === 410 ? { kind: 'gone', message } : { kind: 'error', code, message };
  }
  const resourceVersion = versionOf(object);
  if (!resourceVersion) return { kind: 'unreadable', message: `${event.type} without a resourceVersion` };
  switch (event.type) {
    case 'ADDED':
    case 'MODIFIED':
      return { kind: 'data', resourceVersion, data: stringData(object.data) };
    case 'DELETED':
      return { kind: 'deleted', resourceVersion };
    case 'BOOKMARK':
      return { kind: 'bookmark', resourceVersion };
    default:
      return { kind: 'unreadable', message: `unknown watch event type ${event.type}` };
  }
}

/** A `ConfigMapList` (listed with fieldSelector metadata.name=…): the version to watch from, and the ConfigMap. */
export function parseConfigMapList(body: unknown): {
  resourceVersion: string;
  configMap: { resourceVersion: string; data: Record<string, string> } | null;
} {
  if (!isRecord(body) || !Array.isArray(body.items)) throw new Error('not a ConfigMapList');
  const resourceVersion = versionOf(body as ObjectMeta);
  if (!resourceVersion) throw new Error('ConfigMapList without a resourceVersion');
  const item = body.items[0] as ObjectMeta | undefined;
  const itemVersion = item && versionOf(item);
  return {
    resourceVersion,
    configMap: item && itemVersion ? { resourceVersion: itemVersion, data: stringData(item.data) } : null,
  };
}

/** Splits a streamed chunk into complete lines; `rest` is the unfinished last line, to prepend to the next chunk. */
export function splitLines(pending: string, chunk: string): { lines: string[]; rest: string } {
  const parts = (pending + chunk).split('\n');
  const rest = parts.pop() ?? '';
  return { lines: parts.filter((l) => l.trim() !== ''), rest };
}

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
