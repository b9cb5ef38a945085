import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { consumerEnv, consumerSettings } from '@kvflow/consumer';
import { producerEnv, producerSettings } from '@kvflow/producer';
import { describe, expect, it } from 'vitest';

const text = readFileSync(resolve(import.meta.dirname, '../../.env.example'), 'utf8');
const entries = new Map(
  text
    .split('\n')
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
);

describe('.env.example', () => {
  it('documents exactly the variables the services read', () => {
    const declared = new Set([...Object.keys(producerEnv), ...Object.keys(consumerEnv)]);
    expect([...entries.keys()].sort()).toEqual([...declared].sort());
  });

  it('shows each default (as its comment header promises)', () => {
    const env = Object.fromEntries(entries);
    expect(producerSettings.parse(env)).toEqual(producerSettings.parse({}));
    expect(consumerSettings.parse(env)).toEqual(consumerSettings.parse({}));
  });
});
