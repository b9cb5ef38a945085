import { describe, expect, it } from 'vitest';
import { SlidingCounter } from '../../producer/src/sliding-counter.js';

/** Within one bucket (1/50 of the window) of `expected` at a steady `rate`: the counter's resolution. */
const near = (actual: number, expected: number, rate = expected) =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rate / 50 + 1e-9);

describe('sliding counter (the rate generator achieved rate)', () => {
  it('reports events/s over the window and forgets what falls out of it', () => {
    const c = new SlidingCounter(5_000, 50, 0);
    for (let t = 0; t < 5_000; t += 10) c.add(1, t); // 100/s for 5 s
    near(c.rate(4_999), 100);
    near(c.rate(7_500), 50, 100); // half the window has passed since the last event
    expect(c.rate(10_100)).toBe(0);
  });

  it('costs the same per event at any rate (no list of timestamps)', () => {
    const c = new SlidingCounter(5_000, 50, 0);
    for (let i = 0; i < 1_000_000; i++) c.add(1, i * 0.005);
    near(c.rate(5_000), 200_000);
  });
});
