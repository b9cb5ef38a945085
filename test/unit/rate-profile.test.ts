import { describeProfile, type RateProfile, targetRate } from '@kvflow/common';
import { describe, expect, it } from 'vitest';

describe('rate profiles', () => {
  it.each<[RateProfile, Array<[number, number]>]>([
    [
      { kind: 'constant', rate: 0.2 },
      [
        [0, 0.2],
        [1000, 0.2],
      ],
    ],
    [
      { kind: 'step', rate: 10, stepRate: 100, periodS: 30 },
      [
        [0, 10],
        [29.9, 10],
        [30, 100],
        [59, 100],
        [60, 10],
      ],
    ],
    [
      { kind: 'sine', rate: 100, amplitude: 50, periodS: 40 },
      [
        [0, 100],
        [10, 150],
        [20, 100],
        [30, 50],
      ],
    ],
    [{ kind: 'sine', rate: 10, amplitude: 50, periodS: 40 }, [[30, 0]]],
    [
      { kind: 'burst', rate: 1, burstRate: 500, burstS: 5, periodS: 60 },
      [
        [0, 500],
        [4.9, 500],
        [5, 1],
        [60, 500],
      ],
    ],
  ])('%j', (profile, points) => {
    for (const [t, rate] of points) expect(targetRate(profile, t)).toBeCloseTo(rate, 9);
  });

  it('describes each profile for people', () => {
    expect(describeProfile({ kind: 'burst', rate: 1, burstRate: 500, burstS: 5, periodS: 60 })).toBe(
      'burst 500/s for 5s every 60s, else 1/s',
    );
  });
});
