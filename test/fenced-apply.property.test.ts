import { applyFenced, type FencedWrite, readAll } from '@kvflow/common';
import { type RedisServer, startRedis } from '@kvflow/stack';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Property: however events are duplicated, reordered and split over concurrent workers, the final Redis state
 * equals applying each event exactly once in stream (sequence) order.
 */

const TTL = 3_600_000;
let server: RedisServer;
let workers: Redis[];

beforeAll(async () => {
  server = await startRedis();
  workers = [0, 1, 2].map(() => new Redis(server.url));
});
afterAll(async () => {
  for (const w of workers) w.disconnect();
  await server.stop();
});

type Op = { key: string; op: 'set'; value: string } | { key: string; op: 'del' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      key: fc.constantFrom('a', 'b', 'c', 'd', 'ключ'),
      op: fc.constant('set' as const),
      value: fc.string({ maxLength: 8 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      key: fc.constantFrom('a', 'b', 'c', 'd', 'ключ'),
      op: fc.constant('del' as const),
    }),
  },
);

/** What the stream says: apply in order, last write per key wins, a delete removes. */
function model(writes: FencedWrite[]): Map<string, string> {
  const state = new Map<string, string>();
  for (const w of writes) {
    if (w.op === 'set') state.set(w.key, w.value as string);
    else state.delete(w.key);
  }
  return state;
}

describe('sequence-fenced apply (real Redis)', () => {
  it('final state equals stream-order application under duplicates, reordering and 3 concurrent workers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 60 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 200 }),
        fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 30 }),
        async (ops, deliveryPlan, batchSizes) => {
          await workers[0]?.flushdb();
          const stream: FencedWrite[] = ops.map((o, i) => ({ ...o, seq: i + 1 }));
          // Deliveries: every event at least once (as a real consumer guarantees) plus random redeliveries,
          // in a random order decided by the plan.
          const deliveries = [
            ...stream,
            ...deliveryPlan.map((n) => stream[n % stream.length] as FencedWrite),
          ];
          const order = deliveries
            .map((d, i) => ({ d, k: deliveryPlan[i % deliveryPlan.length] ?? 0, i }))
            .sort((x, y) => x.k - y.k || y.i - x.i)
            .map((x) => x.d);
          // Split into batches dealt round-robin to three workers that apply concurrently.
          const queues: FencedWrite[][][] = [[], [], []];
          for (let at = 0, b = 0; at < order.length; b++) {
            const size = batchSizes[b % batchSizes.length] ?? 1;
            queues[b % 3]?.push(order.slice(at, at + size));
            at += size;
          }
          await Promise.all(
            queues.map(async (batches, w) => {
              for (const batch of batches) await applyFenced(workers[w] as Redis, batch, TTL);
            }),
          );
          expect(await readAll(workers[0] as Redis)).toEqual(model(stream));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('reports stale re-applications and keeps a tombstone against resurrection', async () => {
    const r = workers[0] as Redis;
    await r.flushdb();
    expect(await applyFenced(r, [{ key: 'k', op: 'set', value: 'v1', seq: 5 }], TTL)).toEqual(['applied']);
    expect(await applyFenced(r, [{ key: 'k', op: 'del', seq: 7 }], TTL)).toEqual(['applied']);
    // An older write arriving late (e.g. a redelivery) must not bring the key back.
    expect(await applyFenced(r, [{ key: 'k', op: 'set', value: 'old', seq: 6 }], TTL)).toEqual(['stale']);
    expect(await readAll(r)).toEqual(new Map());
    const ttl = await r.pttl('kv:k');
    expect(ttl).toBeGreaterThan(TTL - 60_000);
    // A newer write revives the key and clears the tombstone's expiry.
    expect(await applyFenced(r, [{ key: 'k', op: 'set', value: 'new', seq: 8 }], TTL)).toEqual(['applied']);
    expect(await r.pttl('kv:k')).toBe(-1);
    expect(await readAll(r)).toEqual(new Map([['k', 'new']]));
  });
});
