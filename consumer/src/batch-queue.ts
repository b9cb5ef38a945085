/**
 * A bounded in-memory queue between the pull pump and the worker. The worker takes everything that is waiting
 * (up to a maximum) whenever it is free, so batches grow under load and stay at one event when traffic is light:
 * high throughput without adding latency.
 */
export class BatchQueue<T> {
  private items: T[] = [];
  private closed = false;
  private itemWaiters: Array<() => void> = [];
  private roomWaiters: Array<() => void> = [];

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    this.items.push(item);
    this.wake('items');
  }

  /** Resolves once `n` more items fit, or the queue is closed. */
  async waitForRoom(n: number): Promise<void> {
    while (!this.closed && this.items.length + n > this.capacity) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
  }

  /** Resolves with 1..max items, waiting for the first; resolves with [] only once closed and empty. */
  async take(max: number): Promise<T[]> {
    while (this.items.length === 0 && !this.closed) {
      await new Promise<void>((resolve) => this.itemWaiters.push(resolve));
    }
    const batch = this.items.splice(0, max);
    this.wake('room');
    return batch;
  }

  /** Takes whatever is waiting now, without waiting. */
  takeAll(): T[] {
    const batch = this.items;
    this.items = [];
    this.wake('room');
    return batch;
  }

  /** No more items will be pushed: wakes every waiter. Items already queued can still be taken. */
  close(): void {
    this.closed = true;
    this.wake('items');
    this.wake('room');
  }

  private wake(which: 'items' | 'room'): void {
    const waiters = which === 'items' ? this.itemWaiters : this.roomWaiters;
    if (waiters.length === 0) return;
    if (which === 'items') this.itemWaiters = [];
    else this.roomWaiters = [];
    // Every waiter re-checks its condition, so waking all of them is always safe.
    for (const resolve of waiters) resolve();
  }
}
