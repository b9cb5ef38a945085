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
 * One fetch at a time. Two outstanding drained a backlog 5-10% faster, but their messages reached the queue out of
 * stream order (nats.js hands each fetch its messages on its own, and the fetches' requests need not reach the
 * server in the order they were made), so a key's later event could be applied first and the earlier one fenced
 * off as stale (167 of 3,000 in the SIGTERM test). Correct, but the stale count is how a redelivered, already
 * applied event shows.
 */
export class PullPump {
  private stopping = false;
  private paused = false;
  private resume: (() => void) | null = null;
  private running: Promise<void> | null = null;
  /** The outstanding fetch, if any: messages may still arrive. */
  private open: ConsumerMessages | null = null;
  private fetching = false;

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
    return this.fetching;
  }

  /**
   * Stops pulling until unpause(): no new fetch, and the outstanding one is ended, so that events the worker hands
   * back (nak) are not delivered straight into a fetch that is still open, burning their deliveries. What the
   * server had already sent it comes back after `ack_wait`.
   */
  pause(): void {
    this.paused = true;
    this.open?.stop();
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
    let failures = 0;
    while (!this.stopping) {
      if (this.paused) {
        await new Promise<void>((resolve) => {
          this.resume = resolve;
        });
        this.resume = null;
        continue;
      }
      await this.queue.waitForRoom(this.opts.batchSize);
      if (this.stopping || this.paused) continue;
      try {
        this.fetching = true;
        this.open = await this.consumer.fetch({
          max_messages: this.opts.batchSize,
          expires: this.opts.expiresMs,
        });
        if (this.paused) this.open.stop();
        for await (const m of this.open) this.queue.push(m);
        failures = 0;
      } catch (err) {
        failures++;
        const delay = backoffMs(failures, 200, 5_000);
        this.log.warn({ err: (err as Error).message, retryInMs: delay }, 'pull failed');
        await sleep(delay);
      } finally {
        this.open = null;
        this.fetching = false;
      }
    }
    this.queue.close();
  }
}
