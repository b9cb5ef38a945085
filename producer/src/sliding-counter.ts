/**
 * Counts events over a sliding window in fixed buckets: O(1) per event and per read, whatever the rate (a list of
 * timestamps costs O(n) to trim, which at 100k events/s is the generator's bottleneck).
 */
export class SlidingCounter {
  private readonly counts: number[];
  private readonly bucketMs: number;
  private bucket = 0;
  private total = 0;

  constructor(
    private readonly windowMs: number,
    buckets = 50,
    now = performance.now(),
  ) {
    this.bucketMs = windowMs / buckets;
    this.counts = new Array<number>(buckets).fill(0);
    this.bucket = Math.floor(now / this.bucketMs);
  }

  add(n = 1, now = performance.now()): void {
    this.advance(now);
    this.counts[this.bucket % this.counts.length] = (this.counts[this.bucket % this.counts.length] ?? 0) + n;
    this.total += n;
  }

  /** Events per second over the window. */
  rate(now = performance.now()): number {
    this.advance(now);
    return this.total / (this.windowMs / 1000);
  }

  private advance(now: number): void {
    const target = Math.floor(now / this.bucketMs);
    if (target - this.bucket >= this.counts.length) {
      this.counts.fill(0);
      this.total = 0;
      this.bucket = target;
      return;
    }
    while (this.bucket < target) {
      this.bucket++;
      const i = this.bucket % this.counts.length;
      this.total -= this.counts[i] ?? 0;
      this.counts[i] = 0;
    }
  }
}
