import { setTimeout as sleep } from 'node:timers/promises';
import { backoffMs, type Logger } from '@kvflow/common';
import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { BatchQueue } from './batch-queue.js';

/**
 * Pulls from the durable consumer into the batch queue with bounded fetches.
 *
 * Why fetch() and not consume(): stopping consume() unsubscribes while the server may still be sending the
 * outstanding pull, and those messages would sit unacknowledged until `ack_wait` and then be redelivered. A
 * fetch asks for a bounded number of messages for a bounded time; on shutdown the pump simply lets the current
 * fetch finish (at most `expiresMs`) and issues no new one, so every delivered message reaches the worker.
 *
 * PULLS_IN_FLIGHT fetches are kept outstanding, each only once the queue has room for it. It is 1: two drained a
 * backlog 5-10% faster, but their messages reached the queue out of stream order (nats.js hands each fetch its
 * messages on its own, and the fetches' requests need not reach the server in the order they were made), so a
 * key's later event could be applied first and the earlier one fenced off as stale (167 of 3,000 in the SIGTERM
 * test). Correct, but the stale count is how a redelivered, already applied event shows.
 */
export const PULLS_IN_FLIGHT = 1;

export class PullPump {
  private stopping = false;
  private paused = false;
  private resume: (() => void) | null = null;
  private running: Promise<void> | null = null;
  private fetching = 0;
  /** Messages asked for by outstanding fetches and not yet queued: the room those fetches hold in the queue. */
  private requested = 0;
  private failures = 0;
  private readonly open = new Set<ConsumerMessages>();

  constructor(
    private readonly consumer: Consumer,
    private readonly queue: BatchQueue<JsMsg>,
    private readonly opts: { batchSize: number; expiresMs: number },
    private readonly log: Logger,
  ) {}

  start(): void {
    this.running ??= this.run();
  }

  /** True while a fetch is outstanding: messages may still arrive. */
  get busy(): boolean {
    return this.fetching > 0;
  }

  /**
   * Stops pulling until unpause(): no new fetch, and the outstanding ones are ended, so that events the worker
   * hands back (nak) are not delivered straight into a fetch that is still open, burning their deliveries.
   */
  pause(): void {
    this.paused = true;
    for (const messages of this.open) messages.stop();
  }

  unpause(): void {
    this.paused = false;
    this.resume?.();
  }

  /** Issues no new fetch, waits for the current one to complete, then closes the queue. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.resume?.();
    await this.running;
  }

  private async run(): Promise<void> {
    await Promise.all(Array.from({ length: PULLS_IN_FLIGHT }, () => this.pullLoop()));
    this.queue.close();
  }

  private async pullLoop(): Promise<void> {
    const { batchSize, expiresMs } = this.opts;
    while (!this.stopping) {
      if (this.paused) {
        await new Promise<void>((resolve) => {
          const previous = this.resume;
          this.resume = () => {
            previous?.();
            resolve();
          };
        });
        this.resume = null;
        continue;
      }
      await this.queue.waitForRoom(this.requested + batchSize);
      if (this.stopping || this.paused) continue;
      this.fetching++;
      this.requested += batchSize;
      let received = 0;
      let messages: ConsumerMessages | undefined;
      try {
        messages = await this.consumer.fetch({ max_messages: batchSize, expires: expiresMs });
        this.open.add(messages);
        if (this.paused) messages.stop();
        for await (const m of messages) {
          received++;
          this.requested--;
          this.queue.push(m);
        }
        this.failures = 0;
      } catch (err) {
        const delay = backoffMs(++this.failures, 200, 5_000);
        this.log.warn({ err: (err as Error).message, retryInMs: delay }, 'pull failed');
        await sleep(delay);
      } finally {
        if (messages) this.open.delete(messages);
        this.requested -= batchSize - received;
        this.fetching--;
      }
    }
  }
}
