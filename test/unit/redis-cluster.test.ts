import { ConfigError, connectionEnv, connectionSettings, parseEnv, slotTag } from '@kvflow/common';
import {
  decodeClusterCursor,
  encodeClusterCursor,
  isScanCursor,
  keySlot,
  masterAnchors,
  SCAN_CURSOR_MAX,
  SLOT_COUNT,
  scriptGroups,
} from '@kvflow/common/internal';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clusterDomain } from '../../consumer/src/guard-domains.js';

/** A slot map as the ioredis Cluster client keeps it: slot -> [master, ...replicas]. */
function slotMap(ranges: [from: number, to: number, master: string][]): string[][] {
  const slots: string[][] = [];
  for (const [from, to, master] of ranges)
    for (let s = from; s <= to; s++) slots[s] = [master, `${master}-r`];
  return slots;
}

describe('masters of a slot map', () => {
  it('names each master by its lowest slot, ordered, with its slot count', () => {
    const { masters, unserved } = masterAnchors(
      slotMap([
        [0, 5460, 'a:1'],
        [5461, 10922, 'b:2'],
        [10923, 16383, 'c:3'],
      ]),
    );
    expect(unserved).toBe(0);
    expect(masters).toEqual([
      { node: 'a:1', anchor: 0, slots: 5461 },
      { node: 'b:2', anchor: 5461, slots: 5462 },
      { node: 'c:3', anchor: 10923, slots: 5461 },
    ]);
  });

  it('handles masters with several ranges and counts unserved slots', () => {
    const { masters, unserved } = masterAnchors(
      slotMap([
        [100, 199, 'b:2'],
        [0, 99, 'a:1'],
        [300, 16383, 'a:1'],
      ]),
    );
    expect(masters.map((m) => [m.node, m.anchor, m.slots])).toEqual([
      ['a:1', 0, 100 + 16084],
      ['b:2', 100, 100],
    ]);
    expect(unserved).toBe(100);
  });
});

describe('slot tags', () => {
  it('place a key on the slot asked for', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: SLOT_COUNT - 1 }), (slot) => {
        expect(keySlot(`kvflow:{${slotTag(slot)}}:watermark`)).toBe(slot);
      }),
      { numRuns: 200 },
    );
    for (const slot of [0, SLOT_COUNT - 1]) expect(keySlot(`{${slotTag(slot)}}`)).toBe(slot);
  });

  it('refuse what is not a slot', () => {
    expect(() => slotTag(SLOT_COUNT)).toThrow(RangeError);
    expect(() => slotTag(-1)).toThrow(RangeError);
  });

  it("keep a guard domain's keys on its master's anchor slot", () => {
    for (const anchor of [0, 5461, 10923]) {
      const d = clusterDomain(anchor);
      for (const key of [d.watermarkKey, d.checkedRunKey, d.lockKey]) expect(keySlot(key)).toBe(anchor);
    }
  });
});

describe('cluster listing cursor', () => {
  it('round-trips (anchor slot, node cursor) and stays a valid unsigned 64-bit cursor', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: SLOT_COUNT - 1 }),
        fc.bigInt({ min: 0n, max: (1n << 50n) - 1n }),
        (anchor, node) => {
          const cursor = encodeClusterCursor({ anchor, nodeCursor: node.toString() });
          expect(isScanCursor(cursor)).toBe(true);
          expect(decodeClusterCursor(cursor)).toEqual({ anchor, nodeCursor: node.toString() });
        },
      ),
    );
  });

  it('starts at "0" and decodes any valid cursor to a slot', () => {
    expect(decodeClusterCursor('0')).toEqual({ anchor: 0, nodeCursor: '0' });
    expect(decodeClusterCursor(SCAN_CURSOR_MAX.toString()).anchor).toBe(SLOT_COUNT - 1);
  });

  it('refuses a node cursor it cannot hold', () => {
    expect(() => encodeClusterCursor({ anchor: 1, nodeCursor: (1n << 50n).toString() })).toThrow(/50 bits/);
  });
});

describe('script groups', () => {
  const keys = Array.from({ length: 2_000 }, (_, i) => `kv:k${i % 700}`);

  it('on a Cluster: one slot per group, at most 256 writes, batch order kept, every write once', () => {
    const groups = scriptGroups(keys, true);
    expect(groups.flat().sort((a, b) => a - b)).toEqual(keys.map((_, i) => i));
    for (const g of groups) {
      expect(g.length).toBeLessThanOrEqual(256);
      expect(new Set(g.map((i) => keySlot(keys[i] as string))).size).toBe(1);
      expect([...g].sort((a, b) => a - b)).toEqual(g);
    }
  });

  it('on a single Redis: the batch in order, 256 at a time', () => {
    const groups = scriptGroups(keys, false);
    expect(groups.map((g) => g.length)).toEqual([256, 256, 256, 256, 256, 256, 256, 208]);
    expect(groups.flat()).toEqual(keys.map((_, i) => i));
  });
});

describe('cluster settings', () => {
  const parse = (env: Record<string, string>) => connectionSettings(parseEnv(connectionEnv, env));

  it('takes seed nodes with REDIS_CLUSTER=true', () => {
    const s = parse({ REDIS_CLUSTER: 'true', REDIS_URL: 'redis://a:7000, redis://b:7001' });
    expect(s.redisCluster).toBe(true);
    expect(s.redisUrls).toEqual(['redis://a:7000', 'redis://b:7001']);
    expect(parse({}).redisCluster).toBe(false);
  });

  it('refuses several URLs for a single Redis, saying what to set', () => {
    expect(() => parse({ REDIS_URL: 'redis://a:7000,redis://b:7001' })).toThrow(ConfigError);
    expect(() => parse({ REDIS_URL: 'redis://a:7000,redis://b:7001' })).toThrow(/REDIS_CLUSTER=true/);
  });
});
