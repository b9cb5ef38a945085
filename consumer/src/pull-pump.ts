import { setTimeout as sleep } from 'node:timers/promises';
import { backoffMs, type Logger } from '@kvflow/common';
import type { Consumer, JsMsg } from '@nats-io/jetstream';
import type { BatchQueue } from './batch-queue.js';

/**
 * Pulls from the durable consumer into the batch queue with bounded fetches.
 *
 * Why fetch() and not consume(): stopping consume() unsubscribes while the server may still be sending the
 * outstanding pull, and those messages would sit unacknowledged until `ack_wait` and then be redelivered. A
 * fetch asks for a bounded number of messages for a bounded time; on shutdown the pump simply lets the current
 * fetch finish (at most `expiresMs`) and issues no new one, so every delivered message reaches the worker.
 */
export class PullPump {
  private stopping = false;
  private paused = false;
  private resume: (() => void) | null = null;
  private running: Promise<void> | null = null;
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

  /** Stops issuing fetches (the current one completes) until resume() is called. */
  pause(): void {
    this.paused = true;
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
        const messages = await this.consumer.fetch({
          max_messages: this.opts.batchSize,
          expires: this.opts.expiresMs,
        });
        for await (const m of messages) this.queue.push(m);
        failures = 0;
      } catch (err) {
        failures++;
        const delay = backoffMs(failures, 200, 5_000);
        this.log.warn({ err: (err as Error).message, retryInMs: delay }, 'pull failed');
        await sleep(delay);
      } finally {
        this.fetching = false;
      }
    }
    this.queue.close();
  }
}
