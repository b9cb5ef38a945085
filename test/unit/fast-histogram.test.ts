import { FastHistogram, Histogram, LATENCY_BUCKETS, Registry } from '@kvflow/common';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

async function exposition(
  observe: (h: { observe(v: number): void }) => void,
  fast: boolean,
): Promise<string> {
  const registry = new Registry();
  const config = { name: 'x_seconds', help: 'x', buckets: LATENCY_BUCKETS, registers: [registry] };
  const h = fast ? new FastHistogram(config) : new Histogram(config);
  observe(h);
  return registry.metrics();
}

describe('FastHistogram', () => {
  it('exposes exactly what a prom-client Histogram does for the same observations', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.double({ min: 0, max: 20, noNaN: true }), { maxLength: 200 }),
        async (values) => {
          const feed = (h: { observe(v: number): void }) => {
            for (const v of values) h.observe(v);
          };
          expect(await exposition(feed, true)).toBe(await exposition(feed, false));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('counts a value on a bucket bound in that bucket, and reset() empties it', async () => {
    const registry = new Registry();
    const h = new FastHistogram({ name: 'y', help: 'y', buckets: [0.001, 0.01], registers: [registry] });
    h.observe(0.001);
    h.observe(0.5);
    expect(await registry.metrics()).toContain(
      'y_bucket{le="0.001"} 1\ny_bucket{le="0.01"} 1\ny_bucket{le="+Inf"} 2',
    );
    h.reset();
    expect(await registry.metrics()).toContain('y_count 0');
  });
});
