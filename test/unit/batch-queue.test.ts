import { backoffMs } from '@kvflow/common';
import { describe, expect, it } from 'vitest';
import { BatchQueue } from '../../consumer/src/batch-queue.js';
import { SimulatedWork } from '../../consumer/src/demo/simulated-work.js';

describe('batch queue', () => {
  it('hands over everything waiting, up to the batch size', async () => {
    const q = new BatchQueue<number>(10);
    for (let i = 0; i < 7; i++) q.push(i);
    expect(await q.take(5)).toEqual([0, 1, 2, 3, 4]);
    expect(await q.take(5)).toEqual([5, 6]);
  });

  it('waits for the first item', async () => {
    const q = new BatchQueue<string>(10);
    const taken = q.take(5);
    setTimeout(() => q.push('late'), 5);
    expect(await taken).toEqual(['late']);
  });

  it('blocks the producer side until there is room', async () => {
    const q = new BatchQueue<number>(4);
    for (let i = 0; i < 4; i++) q.push(i);
    let roomy = false;
    const room = q.waitForRoom(2).then(() => {
      roomy = true;
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(roomy).toBe(false);
    await q.take(2);
    await room;
    expect(roomy).toBe(true);
  });

  it('serves several concurrent takers and wakes all of them on close', async () => {
    const q = new BatchQueue<number>(10);
    const a = q.take(1);
    const b = q.take(1);
    const c = q.take(1);
    q.push(1);
    q.push(2);
    expect((await Promise.all([a, b])).flat().sort()).toEqual([1, 2]);
    q.close();
    expect(await c).toEqual([]);
  });

  it('drains what is left after close, then ends', async () => {
    const q = new BatchQueue<number>(4);
    q.push(1);
    q.close();
    expect(await q.take(10)).toEqual([1]);
    expect(await q.take(10)).toEqual([]);
  });
});

describe('nak backoff', () => {
  it('doubles per delivery and caps', () => {
    expect([1, 2, 3, 4, 10].map((n) => backoffMs(n, 1000, 5000))).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(backoffMs(1_000_000, 1000, 30_000)).toBe(30_000);
  });
});

describe('demo throttle', () => {
  it('serializes simulated work across concurrent batches (one worker = one CPU)', async () => {
    const throttle = new SimulatedWork(10, 0);
    const started = performance.now();
    await Promise.all([throttle.spend(3), throttle.spend(3)]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(58);
    // About one second of simulated work (100 events) in hand, over every batch a worker holds at once.
    expect(throttle.batchSize(256, 1)).toBe(100);
    expect(throttle.batchSize(256, 8)).toBe(13);
    expect(new SimulatedWork(0, 0).batchSize(256, 8)).toBe(256);
  });
});
