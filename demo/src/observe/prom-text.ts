/** Just enough of the Prometheus text format to read our own services' samples. Pure. */

export type Samples = Map<string, number>;

/** Parses `name{labels} value` lines into a map keyed by `name{labels}` exactly as exposed. */
export function parsePromText(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    if (cut <= 0) continue;
    const value = Number(line.slice(cut + 1));
    if (!Number.isNaN(value)) out.set(line.slice(0, cut), value);
  }
  return out;
}

/** Sum of every series of `name` (any labels). */
export function sumOf(samples: Samples, name: string): number {
  let total = 0;
  for (const [k, v] of samples) if (k === name || k.startsWith(`${name}{`)) total += v;
  return total;
}

/** Cumulative bucket counts of a histogram without other labels: upper bound -> count. */
export function histogramBuckets(samples: Samples, name: string): Map<number, number> {
  const buckets = new Map<number, number>();
  const prefix = `${name}_bucket{le="`;
  for (const [k, v] of samples) {
    if (!k.startsWith(prefix)) continue;
    const le = k.slice(prefix.length, k.indexOf('"', prefix.length));
    buckets.set(le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), v);
  }
  return buckets;
}

/**
 * The q-quantile of cumulative buckets, as Prometheus' histogram_quantile computes it: linear interpolation in
 * the bucket holding the rank; the highest finite bound when the rank falls in +Inf. Null without observations.
 */
export function histogramQuantile(q: number, buckets: Map<number, number>): number | null {
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const [bound, count] of sorted) {
    if (count >= rank) {
      if (bound === Number.POSITIVE_INFINITY) return prevBound;
      const inBucket = count - prevCount;
      return inBucket === 0 ? bound : prevBound + ((bound - prevBound) * (rank - prevCount)) / inBucket;
    }
    prevBound = bound;
    prevCount = count;
  }
  return prevBound;
}

/** Per-bucket difference of two cumulative snapshots (counts observed between them). */
export function bucketDelta(
  now: Map<number, number>,
  before: Map<number, number> | undefined,
): Map<number, number> {
  const out = new Map<number, number>();
  for (const [le, c] of now) out.set(le, Math.max(0, c - (before?.get(le) ?? 0)));
  return out;
}

export function addBuckets(into: Map<number, number>, more: Map<number, number>): void {
  for (const [le, c] of more) into.set(le, (into.get(le) ?? 0) + c);
}
